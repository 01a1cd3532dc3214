//! The etcd side of `cairn bench --target etcd`: etcd's v3 JSON gateway
//! (`/v3/kv/range`, `/v3/kv/txn`), where keys and values are base64 and
//! 64-bit integers are JSON strings. Used only to compare Cairn with etcd on
//! the same machine and the same load.

use bytes::Bytes;
use cairn_client::{Client, ErrorCode, RawResponse};
use serde_json::{Value, json};

use super::OpError;

const BASE64_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with `=` padding (RFC 4648 §4).
pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b0 = chunk[0];
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let sextets = [
            b0 >> 2,
            (b0 & 0x03) << 4 | b1 >> 4,
            (b1 & 0x0f) << 2 | b2 >> 6,
            b2 & 0x3f,
        ];
        let keep = chunk.len() + 1;
        for (index, sextet) in sextets.iter().enumerate() {
            if index < keep {
                out.push(BASE64_ALPHABET[usize::from(*sextet)] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard base64; padding is optional, whitespace is refused.
pub fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    let sextet = |byte: u8| -> Result<u8, String> {
        match byte {
            b'A'..=b'Z' => Ok(byte - b'A'),
            b'a'..=b'z' => Ok(byte - b'a' + 26),
            b'0'..=b'9' => Ok(byte - b'0' + 52),
            b'+' => Ok(62),
            b'/' => Ok(63),
            other => Err(format!("byte {other:#04x} is not base64")),
        }
    };
    let trimmed = text.trim_end_matches('=');
    if text.len() - trimmed.len() > 2 {
        return Err("too much padding".to_string());
    }
    let input = trimmed.as_bytes();
    if input.len() % 4 == 1 {
        return Err("truncated base64".to_string());
    }
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    for chunk in input.chunks(4) {
        let mut word = 0u32;
        for (index, &byte) in chunk.iter().enumerate() {
            word |= u32::from(sextet(byte)?) << (18 - 6 * index);
        }
        let produced = chunk.len() - 1;
        out.extend_from_slice(&word.to_be_bytes()[1..=produced]);
    }
    Ok(out)
}

/// An int64 as the gateway writes it: a string, or (for tolerance) a number.
fn int64(value: &Value) -> Option<i64> {
    match value {
        Value::String(text) => text.parse().ok(),
        Value::Number(number) => number.as_i64(),
        _ => None,
    }
}

/// A field under its proto name, or the camelCase name some gateways use.
fn field<'a>(object: &'a Value, proto_name: &str, camel_name: &str) -> Option<&'a Value> {
    object.get(proto_name).or_else(|| object.get(camel_name))
}

/// One benchmark client's connection to an etcd member.
pub struct EtcdDriver {
    client: Client,
}

impl EtcdDriver {
    pub fn new(client: Client) -> EtcdDriver {
        EtcdDriver { client }
    }

    async fn post(&self, route: &str, body: &Value) -> Result<Value, OpError> {
        let body = Bytes::from(body.to_string());
        let response = self
            .client
            .raw_request("POST", route, &[("content-type", "application/json")], body)
            .await
            .map_err(|error| OpError::new(error.code(), error.detail()))?;
        if !response.is_success() {
            return Err(gateway_error(&response));
        }
        serde_json::from_slice(&response.body)
            .map_err(|error| OpError::new("decode", format!("{route}: {error}")))
    }

    /// `range` of one key: its value and `mod_revision` (0 when absent).
    async fn range(&self, key: &str) -> Result<(Option<Vec<u8>>, i64), OpError> {
        let answer = self.post("/v3/kv/range", &json!({ "key": key })).await?;
        let Some(kv) = answer
            .get("kvs")
            .and_then(Value::as_array)
            .and_then(|kvs| kvs.first())
        else {
            return Ok((None, 0));
        };
        let mod_revision = field(kv, "mod_revision", "modRevision")
            .and_then(int64)
            .ok_or_else(|| OpError::new("decode", "range answer without mod_revision"))?;
        // proto3 JSON leaves out empty fields: an empty value has no `value`.
        let value = match kv.get("value").and_then(Value::as_str) {
            Some(text) => base64_decode(text).map_err(|error| OpError::new("decode", error))?,
            None => Vec::new(),
        };
        Ok((Some(value), mod_revision))
    }

    /// A linearizable read of `key` (the gateway's default); a missing key is `not_found`.
    pub async fn read(&self, key: &str) -> Result<usize, OpError> {
        match self.range(key).await? {
            (Some(value), _) => Ok(value.len()),
            (None, _) => Err(OpError::new(
                ErrorCode::NotFound.as_str(),
                "the key is absent",
            )),
        }
    }

    /// The key's `mod_revision`, the version a CAS compares against.
    pub async fn read_version(&self, key: &str) -> Result<i64, OpError> {
        Ok(self.range(key).await?.1)
    }

    /// Puts `value` if the key's `mod_revision` is still `seen`; a failed
    /// compare is a `version_conflict`.
    pub async fn write_if(&self, key: &str, seen: i64, value: &[u8]) -> Result<(), OpError> {
        let body = json!({
            "compare": [{
                "key": key,
                "result": "EQUAL",
                "target": "MOD",
                "mod_revision": seen.to_string(),
            }],
            "success": [{ "request_put": { "key": key, "value": base64_encode(value) } }],
        });
        let answer = self.post("/v3/kv/txn", &body).await?;
        // proto3 JSON leaves out `false`: no `succeeded` means the compare failed.
        if answer.get("succeeded").and_then(Value::as_bool) == Some(true) {
            Ok(())
        } else {
            Err(OpError::new(
                ErrorCode::VersionConflict.as_str(),
                format!("mod_revision is no longer {seen}"),
            ))
        }
    }

    /// An unconditional put (to pre-populate keys).
    pub async fn put(&self, key: &str, value: &[u8]) -> Result<(), OpError> {
        self.post(
            "/v3/kv/put",
            &json!({ "key": key, "value": base64_encode(value) }),
        )
        .await
        .map(|_| ())
    }
}

/// A gateway error body: `{"error": "...", "code": N, "message": "..."}`
/// with a gRPC code, or something else from a proxy.
fn gateway_error(response: &RawResponse) -> OpError {
    let body: Option<Value> = serde_json::from_slice(&response.body).ok();
    let grpc_code = body
        .as_ref()
        .and_then(|body| body.get("code"))
        .and_then(Value::as_i64);
    let message = body
        .as_ref()
        .and_then(|body| body.get("message").or_else(|| body.get("error")))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| response.text());
    let code = match grpc_code {
        // DEADLINE_EXCEEDED and UNAVAILABLE mean what Cairn's codes say.
        Some(4) => ErrorCode::Timeout.as_str().to_string(),
        Some(14) => ErrorCode::Unavailable.as_str().to_string(),
        Some(code) => format!("grpc_{code}"),
        None => format!("http_{}", response.status),
    };
    OpError::new(&code, format!("HTTP {}: {message}", response.status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_encode(plain.as_bytes()), encoded);
            assert_eq!(base64_decode(encoded).unwrap(), plain.as_bytes());
        }
        // Unpadded input decodes too.
        assert_eq!(base64_decode("Zm8").unwrap(), b"fo");
    }

    #[test]
    fn base64_round_trips_every_byte() {
        let bytes: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
        for length in 0..bytes.len() {
            let encoded = base64_encode(&bytes[..length]);
            assert_eq!(encoded.len(), length.div_ceil(3) * 4);
            assert_eq!(base64_decode(&encoded).unwrap(), &bytes[..length]);
        }
        assert!(
            base64_encode(&[0xfb, 0xff]).contains('+')
                || base64_encode(&[0xfb, 0xff]).contains('/')
        );
    }

    #[test]
    fn base64_refuses_garbage() {
        assert!(base64_decode("Zm9v!").is_err());
        assert!(base64_decode("Z").is_err());
        assert!(base64_decode("Zg===").is_err());
        assert!(base64_decode("Zm 9v").is_err());
    }

    #[test]
    fn gateway_integers_and_names() {
        let kv = json!({"key": "a", "mod_revision": "42", "version": 3});
        assert_eq!(
            field(&kv, "mod_revision", "modRevision").and_then(int64),
            Some(42)
        );
        let kv = json!({"modRevision": 7});
        assert_eq!(
            field(&kv, "mod_revision", "modRevision").and_then(int64),
            Some(7)
        );
        assert_eq!(int64(&json!("x")), None);
    }

    #[test]
    fn gateway_errors_get_codes() {
        let response = |status: u16, body: &str| RawResponse {
            status,
            headers: Default::default(),
            body: Bytes::copy_from_slice(body.as_bytes()),
        };
        let error = gateway_error(&response(
            503,
            r#"{"error":"etcdserver: request timed out","code":14,"message":"etcdserver: request timed out"}"#,
        ));
        assert_eq!(error.code, "unavailable");
        assert!(error.detail.contains("timed out"));
        assert_eq!(
            gateway_error(&response(502, "bad gateway")).code,
            "http_502"
        );
        assert_eq!(
            gateway_error(&response(400, r#"{"code":3,"message":"m"}"#)).code,
            "grpc_3"
        );
    }
}
