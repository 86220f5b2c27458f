//! The error envelope: every `ApiError` a handler, an extractor or a layer returns becomes
//! `{"error": code, "message": ..., "details": [...]}` with its status (and `Retry-After` where
//! it applies). The cause chain goes to the log, never to the client.

use crate::error::{ApiError, ErrorCode};
use axum::http::header::RETRY_AFTER;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status().is_server_error() {
            tracing::error!(code = self.code.as_str(), causes = ?self.cause_chain(), "request failed");
        } else {
            tracing::info!(code = self.code.as_str(), causes = ?self.cause_chain(), "request refused");
        }
        let mut response = (self.status(), axum::Json(self.body())).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// The answer for a path no route has.
pub async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound)
}

/// The answer for a path that exists with other methods; axum adds the `Allow` header.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(ErrorCode::MethodNotAllowed)
}
