//! Creating a business: shared by `POST /v1/businesses` and `loyalty business create`.

use loyalty_domain::values::BoundedText;
use loyalty_store::{hash_api_key, Store};
use rand::RngCore;

use crate::error::ApiError;
use crate::http::BusinessCreated;

/// Business names: 1 to 100 characters.
pub type BusinessName = BoundedText<1, 100>;

pub fn parse_name(raw: Option<&str>) -> Result<BusinessName, ApiError> {
    let raw = raw.ok_or_else(|| ApiError::field("name", "is required"))?;
    Ok(BusinessName::parse("name", raw)?)
}

/// A fresh API key: `lk_` and 32 random bytes in hex.
pub fn new_api_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
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
