//! Creating a business: shared by `POST /v1/businesses` and `loyalty business create`.

use axum::http::StatusCode;
use hmac::{Hmac, Mac};
use loyalty_domain::values::BoundedText;
use loyalty_store::{hash_api_key, JsonBody, Store};
use rand::RngCore;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::ApiError;
use crate::http::BusinessCreated;
use crate::service::{Context, Idempotency, Service};

/// Business names: 1 to 100 characters.
pub type BusinessName = BoundedText<1, 100>;

pub fn parse_name(raw: Option<&str>) -> Result<BusinessName, ApiError> {
    let raw = raw.ok_or_else(|| ApiError::field("name", "is required"))?;
    Ok(BusinessName::parse("name", raw)?)
}

/// The random part of an API key.
type KeyBytes = [u8; 32];

/// A fresh API key: `lk_` and 32 random bytes in hex.
pub fn new_api_key() -> String {
    api_key_text(&new_key_bytes())
}

fn new_key_bytes() -> KeyBytes {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

fn api_key_text(bytes: &KeyBytes) -> String {
    format!("lk_{}", hex::encode(bytes))
}

/// Register a business and return its one-time API key.
pub async fn create(store: &Store, name: BusinessName) -> Result<BusinessCreated, ApiError> {
    let api_key = new_api_key();
    let business = store
        .create_business(name.into_string(), hash_api_key(&api_key))
        .await?;
    Ok(BusinessCreated {
        business_id: business.business_id,
        name: business.name,
        api_key,
    })
}

/// The scope of `POST /v1/businesses`'s idempotency records: the admin's, which no business
/// shares (no business has the nil id).
const ADMIN_SCOPE: Uuid = Uuid::nil();

/// A business created, or the first answer to the same request again.
pub struct Creation {
    pub created: BusinessCreated,
    pub replayed: bool,
}

/// Register a business once per `Idempotency-Key`: a repeat with the same key and body gets
/// the first answer again, API key included; the same key with another body is refused.
///
/// The API key is otherwise never stored (only its hash), and the idempotency record does not
/// change that: it keeps the key's random bytes masked with a pad computed from the admin token
/// and the `Idempotency-Key` (HMAC-SHA256 keyed by the token), neither of which the database
/// holds, and is filed under the `Idempotency-Key`'s SHA-256. A replay sent with another admin
/// token (after a rotation) cannot unmask the key: it is refused as another request.
pub async fn create_once(
    service: &Service,
    name: BusinessName,
    idempotency: Idempotency,
    admin_token: &str,
    correlation_id: Uuid,
) -> Result<Creation, ApiError> {
    let key_bytes = new_key_bytes();
    let api_key_hash = hash_api_key(&api_key_text(&key_bytes));
    let pad = idempotency_pad(admin_token, &idempotency.key)?;
    let context = Context {
        business_id: ADMIN_SCOPE,
        idempotency: Some(Idempotency {
            key: format!("sha256:{}", hex::encode(Sha256::digest(idempotency.key.as_bytes()))),
            request_hash: idempotency.request_hash,
        }),
        correlation_id,
    };
    let name = name.into_string();
    let reply = service
        .execute(context, move |tx, _| {
            let business = tx.insert_business(&name, &api_key_hash)?;
            let record = masked_record(business.business_id, &business.name, &key_bytes, &pad);
            Ok(Ok((StatusCode::CREATED, JsonBody::of(&record)?)))
        })
        .await?;
    let created = unmask_record(&reply.response.body, &pad)?;
    if reply.replayed {
        // Unmasked with another admin token, the key is noise: it names no business.
        let owner = service
            .store
            .business_by_key_hash(hash_api_key(&created.api_key))
            .await?;
        if owner.is_none_or(|b| b.business_id != created.business_id) {
            return Err(ApiError::IdempotencyKeyReused);
        }
    }
    Ok(Creation {
        created,
        replayed: reply.replayed,
    })
}

/// The pad that masks an API key in an idempotency record: HMAC-SHA256, keyed by the admin
/// token, of a fixed label and the `Idempotency-Key`.
fn idempotency_pad(admin_token: &str, idempotency_key: &str) -> Result<KeyBytes, ApiError> {
    let mut mac = Hmac::<Sha256>::new_from_slice(admin_token.as_bytes())
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("HMAC key: {e}")))?;
    mac.update(b"loyalty: the API key of a business created with this Idempotency-Key\0");
    mac.update(idempotency_key.as_bytes());
    Ok(mac.finalize().into_bytes().into())
}

fn mask(bytes: &KeyBytes, pad: &KeyBytes) -> KeyBytes {
    std::array::from_fn(|i| bytes[i] ^ pad[i])
}

/// The answer to keep in the idempotency record: the API key masked.
fn masked_record(business_id: Uuid, name: &str, key_bytes: &KeyBytes, pad: &KeyBytes) -> Value {
    json!({
        "businessId": business_id,
        "name": name,
        "apiKeyMasked": hex::encode(mask(key_bytes, pad)),
    })
}

/// The answer kept in an idempotency record, with its API key unmasked.
fn unmask_record(record: &JsonBody, pad: &KeyBytes) -> Result<BusinessCreated, ApiError> {
    let corrupt = |what: &str| ApiError::Internal(anyhow::anyhow!("the idempotency record of a business: {what}"));
    let record = record.value().map_err(|e| corrupt(&e.to_string()))?;
    let business_id = record["businessId"]
        .as_str()
        .and_then(|id| Uuid::parse_str(id).ok())
        .ok_or_else(|| corrupt("no businessId"))?;
    let name = record["name"].as_str().ok_or_else(|| corrupt("no name"))?.to_owned();
    let masked: KeyBytes = record["apiKeyMasked"]
        .as_str()
        .and_then(|masked| hex::decode(masked).ok())
        .and_then(|masked| masked.try_into().ok())
        .ok_or_else(|| corrupt("no masked API key"))?;
    Ok(BusinessCreated {
        business_id,
        name,
        api_key: api_key_text(&mask(&masked, pad)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_keeps_the_api_key_only_masked_and_only_its_token_and_key_unmask_it() {
        let key_bytes = new_key_bytes();
        let api_key = api_key_text(&key_bytes);
        let pad = idempotency_pad("admin", "idem-1").expect("pad");
        let id = Uuid::now_v7();
        let record = JsonBody::of(&masked_record(id, "Bakery", &key_bytes, &pad)).expect("JSON");
        let text = record.as_str();
        assert!(!text.contains(&api_key[3..]), "{text}");
        assert!(!text.contains(&hex::encode(key_bytes)), "{text}");

        let created = unmask_record(&record, &pad).expect("unmasked");
        assert_eq!((created.business_id, created.name.as_str()), (id, "Bakery"));
        assert_eq!(created.api_key, api_key);

        for (token, key) in [("admin", "idem-2"), ("rotated", "idem-1")] {
            let other = unmask_record(&record, &idempotency_pad(token, key).expect("pad")).expect("unmasked");
            assert_ne!(other.api_key, api_key, "{token}, {key}: does not unmask it");
        }
    }

    #[test]
    fn a_damaged_record_is_an_internal_error_not_a_panic() {
        let pad = idempotency_pad("admin", "idem-1").expect("pad");
        for record in [
            json!({}),
            json!({"businessId": "x", "name": "B", "apiKeyMasked": "00"}),
            json!({"businessId": Uuid::nil(), "name": "B", "apiKeyMasked": "zz"}),
            json!({"businessId": Uuid::nil(), "name": "B", "apiKeyMasked": "0011"}),
        ] {
            let body = JsonBody::of(&record).expect("JSON");
            assert!(
                matches!(unmask_record(&body, &pad), Err(ApiError::Internal(_))),
                "{record}"
            );
        }
    }
}
