//! Routes declared once, documented only when the document is wanted.
//!
//! A function declares its routes with [`routes!`](crate::routes) the way `utoipa_axum::routes!`
//! is used: each handler's `#[utoipa::path]` gives its path, its methods and its OpenAPI
//! operation. Building an operation (its parameters, bodies and schemas) costs a Lambda's cold
//! start for a document it never serves, so a Lambda builds its router through [`serving`], which
//! registers each handler under its path and methods only; everything else (the OpenAPI document,
//! the route-contract tests) gets the full entries.

use axum::Router;
use std::cell::Cell;
use utoipa_axum::router::OpenApiRouter;

thread_local! {
    static PATHS_ONLY: Cell<bool> = const { Cell::new(false) };
}

/// Whether [`routes!`](crate::routes) should leave out the OpenAPI operations (inside [`serving`]).
pub fn paths_only() -> bool {
    PATHS_ONLY.with(Cell::get)
}

/// The axum router of `routes`, built without its OpenAPI operations.
pub fn serving<S>(routes: impl FnOnce() -> OpenApiRouter<S>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            PATHS_ONLY.with(|p| p.set(self.0));
        }
    }
    let _reset = Reset(PATHS_ONLY.with(|p| p.replace(true)));
    routes().split_for_parts().0
}

/// `utoipa_axum::routes!` for handlers named by their identifiers, leaving out the OpenAPI
/// operations while a Lambda builds its router (see [`serving`](crate::edge::routes::serving)).
#[macro_export]
macro_rules! routes {
    ($($handler:ident),+ $(,)?) => {
        if $crate::edge::routes::paths_only() {
            #[allow(unused_imports)]
            use ::utoipa::Path as _;
            use ::utoipa_axum::PathItemExt as _;
            let mut paths = ::utoipa::openapi::path::Paths::new();
            let mut router = ::axum::routing::MethodRouter::new();
            $(
                let (path, methods) = ::utoipa_axum::paste! {
                    ([<__path_ $handler>]::path(), [<__path_ $handler>]::methods())
                };
                for method in &methods {
                    router = router.on(method.to_method_filter(), $handler);
                }
                paths.add_path_operation(&path, methods, ::utoipa::openapi::path::Operation::new());
            )+
            (::std::vec::Vec::new(), paths, router)
        } else {
            ::utoipa_axum::routes!($($handler),+)
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Method, Request, StatusCode};
    use tower::ServiceExt;

    /// Reads one thing.
    #[utoipa::path(get, path = "/things/{id}", params(("id" = String, Path)), responses((status = 200)))]
    async fn read_thing() -> &'static str {
        "read"
    }

    /// Replaces or removes one thing.
    #[utoipa::path(method(put, delete), path = "/things/{id}", params(("id" = String, Path)), responses((status = 204)))]
    async fn change_thing() -> StatusCode {
        StatusCode::NO_CONTENT
    }

    fn things() -> OpenApiRouter {
        OpenApiRouter::new().routes(crate::routes!(read_thing, change_thing))
    }

    async fn status(router: &Router, method: Method, uri: &str) -> StatusCode {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty());
        match request {
            Ok(request) => match router.clone().oneshot(request).await {
                Ok(response) => response.status(),
                Err(never) => match never {},
            },
            Err(e) => panic!("request: {e}"),
        }
    }

    #[tokio::test]
    async fn a_served_router_routes_every_declared_method_and_nothing_else() {
        let served = serving(things);
        let documented = things().split_for_parts().0;
        for router in [&served, &documented] {
            assert_eq!(
                status(router, Method::GET, "/things/7").await,
                StatusCode::OK
            );
            assert_eq!(
                status(router, Method::PUT, "/things/7").await,
                StatusCode::NO_CONTENT
            );
            assert_eq!(
                status(router, Method::DELETE, "/things/7").await,
                StatusCode::NO_CONTENT
            );
            assert_eq!(
                status(router, Method::POST, "/things/7").await,
                StatusCode::METHOD_NOT_ALLOWED
            );
            assert_eq!(
                status(router, Method::GET, "/things").await,
                StatusCode::NOT_FOUND
            );
        }
    }

    #[test]
    fn only_the_served_router_leaves_the_operations_out() {
        let _ = serving(things);
        assert!(!paths_only(), "serving restores the documented mode");
        let doc = things().into_openapi();
        let item = doc.paths.paths.get("/things/{id}");
        let summary =
            |op: Option<&utoipa::openapi::path::Operation>| op.and_then(|o| o.summary.clone());
        assert_eq!(
            summary(item.and_then(|i| i.get.as_ref())).as_deref(),
            Some("Reads one thing.")
        );
        assert_eq!(
            summary(item.and_then(|i| i.delete.as_ref())).as_deref(),
            Some("Replaces or removes one thing.")
        );
    }
}
