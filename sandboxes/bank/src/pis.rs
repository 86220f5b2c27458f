//! Payment initiation: initiate, read, status, cancel.

use crate::banks::{Bank, Product};
use crate::bg::{self, BankRef};
use crate::persons::Person;
use crate::reply::{self, BgError};
use crate::store::{Authorisation, Payment, PaymentDecision, Target, TxStatus};
use crate::wire::{self, PaymentRequest};
use crate::{clock, sca, Sandbox};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;

type Answer = Result<Response, BgError>;

/// The product a path names, if the bank offers it as a single payment.
pub(crate) fn product(bank: &Bank, service: &str, product: &str) -> Result<Product, BgError> {
    match service {
        "payments" => {}
        "bulk-payments" | "periodic-payments" => {
            return Err(BgError::new(
                StatusCode::BAD_REQUEST,
                "SERVICE_INVALID",
                format!("The bank does not offer {service}"),
            ))
        }
        _ => return Err(BgError::unknown("There is no such resource")),
    }
    Product::parse(product)
        .filter(|p| bank.offers(*p))
        .ok_or_else(|| {
            BgError::new(
                StatusCode::NOT_FOUND,
                "PRODUCT_UNKNOWN",
                format!("The bank does not offer {product}"),
            )
        })
}

/// The payment with this id and product at this bank, or 404 `RESOURCE_UNKNOWN`.
pub(crate) fn find(
    sandbox: &Sandbox,
    bank: &Bank,
    product: Product,
    payment_id: &str,
) -> Result<Payment, BgError> {
    sandbox
        .core
        .store
        .read(|inner| inner.payments.get(payment_id).cloned())
        .filter(|p| p.bank == bank.id && p.product == product)
        .ok_or_else(|| BgError::unknown("There is no such payment"))
}

/// `POST /v1/payments/{product}`.
pub(crate) async fn initiate(
    State(sandbox): State<Arc<Sandbox>>,
    Extension(BankRef(bank)): Extension<BankRef>,
    Path((_, service, product_name)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let product = product(bank, &service, &product_name)?;
    if !bg::is_json(&headers) {
        return Ok(StatusCode::UNSUPPORTED_MEDIA_TYPE.into_response());
    }
    bg::psu_ip(&headers, true)?;
    let (redirect, nok_redirect) = bg::redirects(&headers)?;
    let notification_uri = bg::notification_uri(&headers)?;
    let request: PaymentRequest = wire::parse(&body).map_err(BgError::format)?;
    let checked = request.check(product).map_err(BgError::format)?;
    let now = clock::now_ms();
    let payment = Payment {
        id: uuid::Uuid::new_v4().to_string(),
        bank: bank.id,
        product,
        created_ms: now,
        request: checked.request,
        fees: checked.fees.clone(),
        decision: None,
        notification_uri: notification_uri.clone(),
        psu_id: bg::header(&headers, "psu-id").map(str::to_owned),
        notified: None,
        notifier: 0,
    };
    let payment_id = payment.id.clone();
    let authorisation = (!bank.explicit_authorisation).then(|| Authorisation {
        id: uuid::Uuid::new_v4().to_string(),
        bank: bank.id,
        target: Target::Payment {
            product,
            id: payment_id.clone(),
        },
        created_ms: now,
        redirect,
        nok_redirect,
        outcome: None,
    });
    let authorisation_id = authorisation.as_ref().map(|a| a.id.clone());
    sandbox.core.store.write(|inner| {
        inner.payments.insert(payment);
        if let Some(authorisation) = authorisation {
            inner.authorisations.insert(authorisation);
        }
    });
    // Follows the payment from now on, so that an SCA never finished is notified as RJCT.
    sandbox.start_notifier(&payment_id);

    let url = format!(
        "{}/v1/payments/{}/{payment_id}",
        sandbox.core.base(bank),
        product.as_str()
    );
    let mut links = json!({
        "self": bg::href(&url),
        "status": bg::href(&format!("{url}/status")),
    });
    match authorisation_id {
        Some(id) => {
            links["scaRedirect"] = bg::href(&sca::page_url(&sandbox.core, bank, &id));
            links["scaStatus"] = bg::href(&format!("{url}/authorisations/{id}"));
        }
        None => links["startAuthorisation"] = bg::href(&format!("{url}/authorisations")),
    }
    let mut body = json!({
        "transactionStatus": TxStatus::Rcvd.as_str(),
        "paymentId": payment_id,
        "_links": links,
    });
    if let Some(fees) = &checked.fees {
        body["transactionFees"] = json!(fees.transaction_fees);
        body["currencyConversionFee"] = json!(fees.currency_conversion_fee);
        body["estimatedTotalAmount"] = json!(fees.estimated_total_amount);
        body["transactionFeeIndicator"] = json!(true);
    }
    tracing::info!(
        bank = bank.slug,
        product = product.as_str(),
        payment_id,
        "bank sandbox: payment received"
    );
    let mut response = bg::created(&body, &url);
    if notification_uri.is_some() {
        let headers = response.headers_mut();
        headers.insert(
            "aspsp-notification-support",
            HeaderValue::from_static("true"),
        );
        headers.insert(
            "aspsp-notification-content",
            HeaderValue::from_static("status=PROCESS"),
        );
    }
    Ok(response)
}

/// `GET /v1/payments/{product}/{paymentId}`: the payment as initiated, with its status.
pub(crate) async fn get_payment(
    State(sandbox): State<Arc<Sandbox>>,
    Extension(BankRef(bank)): Extension<BankRef>,
    Path((_, service, product_name, payment_id)): Path<(String, String, String, String)>,
) -> Answer {
    let product = product(bank, &service, &product_name)?;
    let payment = find(&sandbox, bank, product, &payment_id)?;
    let progress = payment.progress(clock::now_ms(), sandbox.core.timing());
    let mut body = serde_json::to_value(&payment.request).unwrap_or_else(|_| json!({}));
    body["transactionStatus"] = Value::String(progress.status.as_str().into());
    Ok(reply::json_response(StatusCode::OK, &body))
}

/// `GET /v1/payments/{product}/{paymentId}/status`.
pub(crate) async fn payment_status(
    State(sandbox): State<Arc<Sandbox>>,
    Extension(BankRef(bank)): Extension<BankRef>,
    Path((_, service, product_name, payment_id)): Path<(String, String, String, String)>,
) -> Answer {
    let product = product(bank, &service, &product_name)?;
    let payment = find(&sandbox, bank, product, &payment_id)?;
    let progress = payment.progress(clock::now_ms(), sandbox.core.timing());
    let mut body = json!({ "transactionStatus": progress.status.as_str() });
    if let Some(message) = progress.psu_message {
        body["psuMessage"] = Value::String(message.into());
    }
    Ok(reply::json_response(StatusCode::OK, &body))
}

/// What a cancellation did.
enum Cancelled {
    /// Before SCA: cancelled (204).
    Now,
    /// After SCA: a cancellation authorisation is needed (202), at this status.
    NeedsAuthorisation(TxStatus),
}

/// `DELETE /v1/payments/{product}/{paymentId}`.
pub(crate) async fn cancel(
    State(sandbox): State<Arc<Sandbox>>,
    Extension(BankRef(bank)): Extension<BankRef>,
    Path((_, service, product_name, payment_id)): Path<(String, String, String, String)>,
) -> Answer {
    let product = product(bank, &service, &product_name)?;
    let now = clock::now_ms();
    let timing = sandbox.core.timing();
    let outcome = sandbox.core.store.write(|inner| {
        let payment = inner
            .payments
            .get_mut(&payment_id)
            .filter(|p| p.bank == bank.id && p.product == product)
            .ok_or_else(|| BgError::unknown("There is no such payment"))?;
        let status = payment.progress(now, timing).status;
        if status.is_final() {
            return Err(BgError::status_invalid(format!(
                "The payment is {}; it can no longer be cancelled",
                status.as_str()
            )));
        }
        if payment.person() == Some(Person::CancellationRefused) {
            return Err(BgError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "CANCELLATION_INVALID",
                "The bank refuses to cancel this payment",
            ));
        }
        if status == TxStatus::Rcvd {
            payment.decision = Some(PaymentDecision::Cancelled { at_ms: now });
            Ok(Cancelled::Now)
        } else {
            Ok(Cancelled::NeedsAuthorisation(status))
        }
    })?;
    match outcome {
        Cancelled::Now => {
            tracing::info!(
                bank = bank.slug,
                payment_id,
                "bank sandbox: payment cancelled"
            );
            sandbox.start_notifier(&payment_id);
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        Cancelled::NeedsAuthorisation(status) => {
            let url = format!(
                "{}/v1/payments/{}/{payment_id}/cancellation-authorisations",
                sandbox.core.base(bank),
                product.as_str()
            );
            Ok(reply::json_response(
                StatusCode::ACCEPTED,
                &json!({
                    "transactionStatus": status.as_str(),
                    "_links": { "startAuthorisation": bg::href(&url) },
                }),
            ))
        }
    }
}
