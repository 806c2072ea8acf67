//! Decoded request parameters and the typed readers handlers need.

use serde_json::Value;

use crate::error::RequestError;

/// Flat-form list indices above this are refused; no RAM list gets near it.
const MAX_LIST_INDEX: usize = 1000;

/// Request parameters in arrival order, query first, then form body. Names are unique.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    query: Vec<(String, String)>,
    body: Vec<(String, String)>,
}

/// One resource tag, from either `Tag=[{"Key":..,"Value":..}]` or `Tag.N.Key` / `Tag.N.Value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub key: String,
    pub value: Option<String>,
}

impl Params {
    /// INVARIANT: no name occurs twice across `query` and `body` ([`crate::decode_params`]
    /// guarantees it); [`Params::get`] relies on it.
    pub(crate) fn from_parts(query: Vec<(String, String)>, body: Vec<(String, String)>) -> Self {
        Self { query, body }
    }

    /// Builds parameters from name/value pairs, as if they came in the query.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, RequestError> {
        let mut query: Vec<(String, String)> = Vec::new();
        for (k, v) in pairs {
            let name = k.into();
            if query.iter().any(|(n, _)| *n == name) {
                return Err(RequestError::DuplicateParameter { name });
            }
            query.push((name, v.into()));
        }
        Ok(Self::from_parts(query, Vec::new()))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// All parameters, query first.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.query
            .iter()
            .chain(&self.body)
            .map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The parameters that came in the query string: V3 signs these, and the body by its hash.
    pub fn query(&self) -> &[(String, String)] {
        &self.query
    }

    pub fn len(&self) -> usize {
        self.query.len() + self.body.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A boolean parameter; see [`parse_bool`].
    pub fn bool(&self, name: &str) -> Result<Option<bool>, RequestError> {
        self.get(name)
            .map(|v| parse_bool(v).ok_or_else(|| invalid(name)))
            .transpose()
    }

    /// A list of strings sent as a JSON array (`ResourceNames=["a","b"]`) or in flat form
    /// (`ResourceNames.1=a&ResourceNames.2=b`). `None` when neither form is present.
    pub fn string_list(&self, name: &str) -> Result<Option<Vec<String>>, RequestError> {
        if let Some(json) = self.json_form(name)? {
            let items = json
                .into_iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s),
                    _ => Err(invalid(name)),
                })
                .collect::<Result<_, _>>()?;
            return Ok(Some(items));
        }
        let mut items = Vec::new();
        for (param, index, rest, value) in self.flat_form(name)? {
            if !rest.is_empty() {
                return Err(invalid(param));
            }
            items.push((index, value.to_owned()));
        }
        Ok(finish_flat(items))
    }

    /// Tags sent as a JSON array of `{"Key":..,"Value":..}` objects or in flat form
    /// (`Tag.1.Key=k&Tag.1.Value=v`). `None` when neither form is present.
    pub fn tag_list(&self, name: &str) -> Result<Option<Vec<Tag>>, RequestError> {
        if let Some(json) = self.json_form(name)? {
            let tags = json
                .into_iter()
                .map(|item| tag_from_json(&item).ok_or_else(|| invalid(name)))
                .collect::<Result<_, _>>()?;
            return Ok(Some(tags));
        }
        let mut entries: Vec<(usize, Option<String>, Option<String>)> = Vec::new();
        for (param, index, rest, value) in self.flat_form(name)? {
            let pos = match entries.iter().position(|(i, _, _)| *i == index) {
                Some(pos) => pos,
                None => {
                    entries.push((index, None, None));
                    entries.len() - 1
                }
            };
            let Some(entry) = entries.get_mut(pos) else {
                return Err(invalid(param));
            };
            match rest {
                "Key" => entry.1 = Some(value.to_owned()),
                "Value" => entry.2 = Some(value.to_owned()),
                _ => return Err(invalid(param)),
            }
        }
        let tags = entries
            .into_iter()
            .map(|(index, key, value)| match key {
                Some(key) => Ok((index, Tag { key, value })),
                None => Err(RequestError::InvalidParameter {
                    name: format!("{name}.{index}.Key"),
                }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(finish_flat(tags))
    }

    fn json_form(&self, name: &str) -> Result<Option<Vec<Value>>, RequestError> {
        let Some(text) = self.get(name) else {
            return Ok(None);
        };
        let prefix = format!("{name}.");
        if self.iter().any(|(n, _)| n.starts_with(&prefix)) {
            // Both forms at once: which one the client meant is a guess we will not make.
            return Err(invalid(name));
        }
        match serde_json::from_str(text) {
            Ok(Value::Array(items)) => Ok(Some(items)),
            _ => Err(invalid(name)),
        }
    }

    /// `(parameter, index, rest after "index.", value)` for every `name.<index>[.rest]`.
    fn flat_form<'a>(
        &'a self,
        name: &str,
    ) -> Result<Vec<(&'a str, usize, &'a str, &'a str)>, RequestError> {
        let mut out = Vec::new();
        for (param, value) in self.iter() {
            let Some(tail) = param.strip_prefix(name).and_then(|t| t.strip_prefix('.')) else {
                continue;
            };
            let (digits, rest) = tail.split_once('.').unwrap_or((tail, ""));
            let index = parse_index(digits).ok_or_else(|| invalid(param))?;
            out.push((param, index, rest, value));
        }
        Ok(out)
    }
}

fn parse_index(digits: &str) -> Option<usize> {
    if digits.is_empty() || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits
        .parse::<usize>()
        .ok()
        .filter(|i| (1..=MAX_LIST_INDEX).contains(i))
}

fn finish_flat<T>(mut items: Vec<(usize, T)>) -> Option<Vec<T>> {
    if items.is_empty() {
        return None;
    }
    items.sort_by_key(|(index, _)| *index);
    Some(items.into_iter().map(|(_, item)| item).collect())
}

fn tag_from_json(item: &Value) -> Option<Tag> {
    let obj = item.as_object()?;
    let key = obj.get("Key")?.as_str()?.to_owned();
    let value = match obj.get("Value") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return None,
    };
    Some(Tag { key, value })
}

fn invalid(name: &str) -> RequestError {
    RequestError::InvalidParameter {
        name: name.to_owned(),
    }
}

/// Parses a boolean case-insensitively: Python SDKs send `True`/`False`, Go and Java
/// `true`/`false`.
pub fn parse_bool(value: &str) -> Option<bool> {
    if value.eq_ignore_ascii_case("true") {
        Some(true)
    } else if value.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Formats 128 caller-supplied random bits as an upper-case UUID, the shape of Alibaba
/// `RequestId`s. The version (4) and variant bits are forced, as in the request ids Alibaba
/// returns, so the result is a valid v4 UUID.
pub fn format_request_id(random: u128) -> String {
    let bits = (random & !(0xF << 76) & !(0b11 << 62)) | (0x4 << 76) | (0b10 << 62);
    let hex = format!("{bits:032X}");
    let (a, rest) = hex.split_at(8);
    let (b, rest) = rest.split_at(4);
    let (c, rest) = rest.split_at(4);
    let (d, e) = rest.split_at(4);
    format!("{a}-{b}-{c}-{d}-{e}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(pairs.iter().copied()).unwrap()
    }

    fn tag(key: &str, value: Option<&str>) -> Tag {
        Tag {
            key: key.into(),
            value: value.map(Into::into),
        }
    }

    #[test]
    fn booleans_parse_case_insensitively() {
        for (text, want) in [
            ("True", Some(true)),
            ("true", Some(true)),
            ("TRUE", Some(true)),
            ("False", Some(false)),
            ("false", Some(false)),
            ("1", None),
            ("yes", None),
            ("", None),
            (" true", None),
        ] {
            assert_eq!(parse_bool(text), want, "{text:?}");
        }
        let p = params(&[("AllowConsoleLogin", "True"), ("Bad", "maybe")]);
        assert_eq!(p.bool("AllowConsoleLogin"), Ok(Some(true)));
        assert_eq!(p.bool("Absent"), Ok(None));
        assert_eq!(
            p.bool("Bad"),
            Err(RequestError::InvalidParameter { name: "Bad".into() })
        );
    }

    #[test]
    fn json_and_flat_tags_decode_to_the_same_list() {
        let json = params(&[(
            "Tag",
            r#"[{"Key":"k","Value":"v"},{"Key":"env","Value":"prod"}]"#,
        )]);
        let flat = params(&[
            ("Tag.2.Value", "prod"),
            ("Tag.1.Key", "k"),
            ("Tag.2.Key", "env"),
            ("Tag.1.Value", "v"),
        ]);
        let want = vec![tag("k", Some("v")), tag("env", Some("prod"))];
        assert_eq!(json.tag_list("Tag").unwrap(), Some(want.clone()));
        assert_eq!(flat.tag_list("Tag").unwrap(), Some(want));
    }

    #[test]
    fn tag_value_is_optional_and_key_is_not() {
        let json = params(&[("Tag", r#"[{"Key":"k"}]"#)]);
        assert_eq!(json.tag_list("Tag").unwrap(), Some(vec![tag("k", None)]));
        let flat = params(&[("Tag.1.Key", "k")]);
        assert_eq!(flat.tag_list("Tag").unwrap(), Some(vec![tag("k", None)]));

        let no_key = params(&[("Tag.1.Value", "v")]);
        assert_eq!(
            no_key.tag_list("Tag"),
            Err(RequestError::InvalidParameter {
                name: "Tag.1.Key".into()
            })
        );
        let json_no_key = params(&[("Tag", r#"[{"Value":"v"}]"#)]);
        assert!(json_no_key.tag_list("Tag").is_err());
    }

    #[test]
    fn malformed_tags_are_rejected() {
        for bad in [
            &[("Tag", "not json")][..],
            &[("Tag", r#"{"Key":"k"}"#)],
            &[("Tag", r#"[{"Key":1}]"#)],
            &[("Tag", r#"[{"Key":"k","Value":2}]"#)],
            &[("Tag", "[]"), ("Tag.1.Key", "k")],
            &[("Tag.0.Key", "k")],
            &[("Tag.01.Key", "k")],
            &[("Tag.x.Key", "k")],
            &[("Tag.1001.Key", "k")],
            &[("Tag.1.Colour", "k")],
            &[("Tag.1", "k")],
        ] {
            assert!(params(bad).tag_list("Tag").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn absent_lists_are_none_and_other_prefixes_are_ignored() {
        let p = params(&[("TagKeys", r#"["a"]"#), ("RoleName", "r1")]);
        assert_eq!(p.tag_list("Tag").unwrap(), None);
        assert_eq!(p.string_list("ResourceNames").unwrap(), None);
        assert_eq!(p.string_list("TagKeys").unwrap(), Some(vec!["a".into()]));
    }

    #[test]
    fn string_lists_decode_from_both_forms() {
        let json = params(&[("ResourceNames", r#"["r1","r2"]"#)]);
        let flat = params(&[("ResourceNames.2", "r2"), ("ResourceNames.1", "r1")]);
        let want = Some(vec!["r1".to_owned(), "r2".to_owned()]);
        assert_eq!(json.string_list("ResourceNames").unwrap(), want);
        assert_eq!(flat.string_list("ResourceNames").unwrap(), want);
        assert_eq!(
            params(&[("ResourceNames", "[]")])
                .string_list("ResourceNames")
                .unwrap(),
            Some(vec![])
        );
        assert!(params(&[("ResourceNames", "[1]")])
            .string_list("ResourceNames")
            .is_err());
        assert!(params(&[("ResourceNames.1.x", "a")])
            .string_list("ResourceNames")
            .is_err());
    }

    #[test]
    fn from_pairs_rejects_duplicates() {
        assert_eq!(
            Params::from_pairs([("a", "1"), ("a", "2")]),
            Err(RequestError::DuplicateParameter { name: "a".into() })
        );
    }

    #[test]
    fn request_ids_are_upper_case_v4_uuids() {
        assert_eq!(format_request_id(0), "00000000-0000-4000-8000-000000000000");
        assert_eq!(
            format_request_id(u128::MAX),
            "FFFFFFFF-FFFF-4FFF-BFFF-FFFFFFFFFFFF"
        );
        assert_eq!(
            format_request_id(0x04F0F334_1335_436C_A1D7_6C044FE73368),
            "04F0F334-1335-436C-A1D7-6C044FE73368"
        );
    }
}
