//! Extractors that turn a raw request into typed, authenticated, validated input, so every
//! malformed request becomes a problem+json 4xx, never a 5xx or a panic.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use loyalty_store::{hash_api_key, request_hash};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::AppState;
use crate::error::ApiError;
use crate::service::Idempotency;

/// The longest `Idempotency-Key` accepted.
pub const IDEMPOTENCY_KEY_CHARS_MAX: usize = 255;
/// The largest request body accepted (larger answers 413).
pub const REQUEST_BODY_BYTES_MAX: usize = 64 * 1024;

/// The business whose API key authenticated the request.
#[derive(Debug, Clone, Copy)]
pub struct Tenant(pub Uuid);

impl FromRequestParts<AppState> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = bearer(&parts.headers).ok_or(ApiError::Unauthorized(
            "an API key is required: send Authorization: Bearer <apiKey>",
        ))?;
        let hash = hash_api_key(key);
        if let Some(id) = state.keys.read().ok().and_then(|keys| keys.get(&hash).copied()) {
            return Ok(Tenant(id));
        }
        let business = state
            .store
            .business_by_key_hash(hash.clone())
            .await?
            .ok_or(ApiError::Unauthorized("the API key is not valid"))?;
        if let Ok(mut keys) = state.keys.write() {
            keys.insert(hash, business.business_id);
        }
        Ok(Tenant(business.business_id))
    }
}

/// The token after `Bearer ` in the Authorization header.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// A command body of type `T`, with its idempotency key (if any) and correlation id.
pub struct Command<T> {
    pub body: T,
    pub idempotency: Option<Idempotency>,
    pub correlation_id: Uuid,
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for Command<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let (parts, body) = request.into_parts();
        let correlation_id = correlation_id(&parts.headers);
        let key = idempotency_key(&parts.headers)?;
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(body_rejection)?;
        let body = parse_json(&bytes)?;
        let idempotency = key.map(|key| Idempotency {
            key,
            request_hash: request_hash(parts.method.as_str(), parts.uri.path(), &bytes),
        });
        Ok(Self {
            body,
            idempotency,
            correlation_id,
        })
    }
}

fn body_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge(REQUEST_BODY_BYTES_MAX)
    } else {
        ApiError::MalformedJson(format!("could not read the request body: {rejection}"))
    }
}

/// Parse JSON, naming the field a type error is at.
/// An empty body reads as `{}`, so commands without fields need none and required fields are
/// named as missing.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize(&mut deserializer) {
        Ok(value) => {
            // One JSON value and nothing after it: `{…} trailing` or `{…}{…}` is malformed.
            deserializer
                .end()
                .map_err(|e| ApiError::MalformedJson(format!("the request body is not valid JSON: {e}")))?;
            Ok(value)
        }
        Err(error) => {
            let path = error.path().to_string();
            let inner = error.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                Err(ApiError::MalformedJson(format!(
                    "the request body is not valid JSON: {inner}"
                )))
            } else {
                let field = if path == "." { "body".to_owned() } else { path };
                Err(ApiError::field(&field, strip_position(&inner.to_string())))
            }
        }
    }
}

/// serde's messages end in "at line 1 column 9", which says nothing a field name does not.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .map_err(|_| ApiError::field("Idempotency-Key", "must be printable ASCII"))?
        .trim();
    if key.is_empty() || key.len() > IDEMPOTENCY_KEY_CHARS_MAX {
        return Err(ApiError::field(
            "Idempotency-Key",
            format!("must be 1 to {IDEMPOTENCY_KEY_CHARS_MAX} characters"),
        ));
    }
    Ok(Some(key.to_owned()))
}

/// `X-Correlation-Id` or `X-Request-Id` when it is a UUID, else a fresh one.
fn correlation_id(headers: &HeaderMap) -> Uuid {
    ["x-correlation-id", "x-request-id"]
        .iter()
        .filter_map(|name| headers.get(*name)?.to_str().ok())
        .find_map(|raw| Uuid::parse_str(raw.trim()).ok())
        .unwrap_or_else(Uuid::new_v4)
}

/// A UUID path segment; anything else is a 400 naming the parameter.
pub fn path_id(name: &str, raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::field(name, "must be a UUID"))
}
