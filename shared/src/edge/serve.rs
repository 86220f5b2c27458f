//! One HTTP/1.1 accept loop for the project's own local servers (the local API server and the
//! sandboxes): connections served concurrently until `shutdown`, then closed.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// Serves `handler` on `listener` until `shutdown` resolves; `name` labels the log lines.
pub async fn serve_http1<F, Fut>(
    listener: TcpListener,
    name: &'static str,
    handler: F,
    shutdown: impl Future<Output = ()>,
) where
    F: Fn(http::Request<Incoming>, SocketAddr) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = http::Response<Full<Bytes>>> + Send + 'static,
{
    tokio::pin!(shutdown);
    let mut connections = JoinSet::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(err) => {
                    tracing::warn!(server = name, error = %err, "accept failed");
                    continue;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        connections.spawn(async move {
            let service = service_fn(move |req| {
                let reply = handler(req, peer);
                async move { Ok::<_, std::convert::Infallible>(reply.await) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            if let Err(err) = connection.await {
                tracing::debug!(server = name, error = %err, "connection closed with an error");
            }
        });
    }
    connections.shutdown().await;
}
