//! The `Provider`'s options (`ProviderOptions` in the declarations), read and checked by core's
//! rules ([`oidc_edge_core::host_config`]): `baseUrl`, `adminToken`, `masterKey`, `delivery`.

use js_sys::Reflect;
use oidc_edge_core::host::HostConfig;
use oidc_edge_core::host_config::{
    check_admin_token, check_delivery_policy, normalize_base_url, parse_master_key,
};
use oidc_edge_core::logout::delivery::DeliveryPolicy;
use serde::Deserialize;
use wasm_bindgen::prelude::*;

use super::interop::{describe, fail, from_js};

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DeliveryOptions {
    #[serde(default)]
    timeout_ms: Option<u64>,
    #[serde(default)]
    retry_max: Option<u32>,
    #[serde(default)]
    retry_base_ms: Option<u64>,
    #[serde(default)]
    concurrency: Option<usize>,
    #[serde(default)]
    auto: Option<bool>,
}

fn text_option(options: &JsValue, name: &str) -> Result<Option<String>, JsValue> {
    let v = Reflect::get(options, &name.into()).unwrap_or(JsValue::UNDEFINED);
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    v.as_string()
        .map(Some)
        .ok_or_else(|| fail("invalid_config", format!("{name} must be a string")))
}

fn master_key(options: &JsValue) -> Result<[u8; 32], JsValue> {
    let v = Reflect::get(options, &"masterKey".into()).unwrap_or(JsValue::UNDEFINED);
    if let Some(bytes) = v.dyn_ref::<js_sys::Uint8Array>() {
        return <[u8; 32]>::try_from(bytes.to_vec().as_slice()).map_err(|_| {
            fail(
                "invalid_config",
                format!("masterKey: {} bytes where 32 are needed", bytes.length()),
            )
        });
    }
    let text = v.as_string().ok_or_else(|| {
        fail(
            "invalid_config",
            "masterKey must be 32 bytes or their base64url",
        )
    })?;
    parse_master_key(&text).map_err(|why| fail("invalid_config", format!("masterKey: {why}")))
}

/// The host's settings from the `Provider`'s options, and whether deliveries run by
/// themselves (`delivery.auto`, default true).
pub fn host_config(options: &JsValue) -> Result<(HostConfig, bool), JsValue> {
    let base_url = text_option(options, "baseUrl")?
        .ok_or_else(|| fail("invalid_config", "baseUrl is required"))?;
    let base_url = normalize_base_url(&base_url)
        .map_err(|why| fail("invalid_config", format!("baseUrl: {why}")))?;
    // None: the admin API answers 401 to everyone (core refuses an empty token).
    let admin_token = text_option(options, "adminToken")?.unwrap_or_default();
    if !admin_token.is_empty() {
        check_admin_token(&admin_token)
            .map_err(|why| fail("invalid_config", format!("adminToken: {why}")))?;
    }
    let delivery = Reflect::get(options, &"delivery".into()).unwrap_or(JsValue::UNDEFINED);
    let delivery: DeliveryOptions = if delivery.is_undefined() || delivery.is_null() {
        DeliveryOptions::default()
    } else {
        from_js(delivery, "delivery").map_err(|e| fail("invalid_config", describe(&e)))?
    };
    let defaults = DeliveryPolicy::default();
    let policy = DeliveryPolicy {
        timeout_ms: delivery.timeout_ms.unwrap_or(defaults.timeout_ms),
        retry_max: delivery.retry_max.unwrap_or(defaults.retry_max),
        retry_base_ms: delivery.retry_base_ms.unwrap_or(defaults.retry_base_ms),
        concurrency: delivery.concurrency.unwrap_or(defaults.concurrency),
    };
    check_delivery_policy(&policy)
        .map_err(|why| fail("invalid_config", format!("delivery: {why}")))?;
    let config = HostConfig {
        base_url,
        admin_token,
        master_key: master_key(options)?,
        delivery: policy,
    };
    Ok((config, delivery.auto.unwrap_or(true)))
}
