//! The shim's JSON of a forced argument (shim.cc, `encodeValue`) as the library's
//! [`Value`]: `{"t": TYPE, "v": VALUE}`, TYPE as `builtins.typeOf` names it; an attribute set's
//! `v` maps names to such objects, a list's is an array of them. Sets and lists nested deeper
//! than any argument needs come without `v`.

use fetchgit_date::request::Value;
use serde::Deserialize;

#[derive(Deserialize)]
struct Encoded {
    t: String,
    #[serde(default)]
    v: serde_json::Value,
}

/// Decodes the argument.
pub fn decode(json: &str) -> Result<Value, String> {
    let encoded: Encoded = serde_json::from_str(json).map_err(|e| format!("internal error: cannot read the argument from the shim: {e}"))?;
    value(encoded)
}

fn value(encoded: Encoded) -> Result<Value, String> {
    let malformed = |t: &str| format!("internal error: malformed {t} from the shim");
    Ok(match (encoded.t.as_str(), encoded.v) {
        ("string", serde_json::Value::String(s)) => Value::String(s),
        ("path", serde_json::Value::String(s)) => Value::Path(s),
        ("int", serde_json::Value::Number(n)) => Value::Int(n.as_i64().ok_or_else(|| malformed("int"))?),
        ("bool", serde_json::Value::Bool(b)) => Value::Bool(b),
        ("null", _) => Value::Null,
        ("set", serde_json::Value::Object(attrs)) => Value::Set(
            attrs
                .into_iter()
                .map(|(name, v)| Ok((name, value(serde_json::from_value(v).map_err(|_| malformed("attribute"))?)?)))
                .collect::<Result<_, String>>()?,
        ),
        ("list", serde_json::Value::Array(items)) => {
            Value::List(items.into_iter().map(|v| value(serde_json::from_value(v).map_err(|_| malformed("list element"))?)).collect::<Result<_, String>>()?)
        }
        (t @ ("string" | "path" | "int" | "bool"), _) => return Err(malformed(t)),
        (other, _) => Value::Other(other.to_owned()),
    })
}
