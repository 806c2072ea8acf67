//! Success and error envelopes, in JSON and XML.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde_json::{Map, Value};

use crate::encode::percent_encode;
use crate::error::{ApiError, RequestError};

const XML_DECLARATION: &str = "<?xml version='1.0' encoding='UTF-8'?>";

/// The response body format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ResponseFormat {
    /// What every SDK expects, and the default.
    #[default]
    Json,
    Xml,
}

impl ResponseFormat {
    /// The exact `Content-Type`; the Python SDK parses V3 errors as XML only on this exact
    /// `text/xml;charset=utf-8` string.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json;charset=utf-8",
            Self::Xml => "text/xml;charset=utf-8",
        }
    }
}

/// Picks the format (spec §1.8): the `Format` parameter (`JSON`/`XML`, any case) wins; without
/// it, an `Accept` that names XML but not JSON selects XML; otherwise JSON.
pub fn negotiate_format(
    format_param: Option<&str>,
    accept: Option<&str>,
) -> Result<ResponseFormat, RequestError> {
    match format_param {
        Some(f) if f.eq_ignore_ascii_case("json") => Ok(ResponseFormat::Json),
        Some(f) if f.eq_ignore_ascii_case("xml") => Ok(ResponseFormat::Xml),
        Some(f) => Err(RequestError::InvalidFormat(f.to_owned())),
        None => {
            let accept = accept.unwrap_or("").to_ascii_lowercase();
            if accept.contains("xml") && !accept.contains("json") {
                Ok(ResponseFormat::Xml)
            } else {
                Ok(ResponseFormat::Json)
            }
        }
    }
}

/// A rendered response: status, `Content-Type` and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

/// What an error envelope says about where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorContext<'a> {
    pub request_id: &'a str,
    /// The service host, e.g. `ram.aliyuncs.com`.
    pub host_id: &'a str,
    /// The product name in the troubleshooting link, e.g. `Ram`, `Sts`.
    pub product: &'a str,
}

/// The `Recommend` link of an error envelope.
pub fn recommend_url(code: &str, product: &str, request_id: &str) -> String {
    format!(
        "https://api.aliyun.com/troubleshoot?q={}&product={}&requestId={}",
        percent_encode(code),
        percent_encode(product),
        percent_encode(request_id)
    )
}

/// A 200 response: `RequestId` followed by the members of `body` (a `RequestId` member in
/// `body` is ignored). XML uses the root `<{action}Response>`; see [`write_xml_element`] for
/// how values map to elements.
pub fn render_success(
    format: ResponseFormat,
    action: &str,
    request_id: &str,
    body: &Map<String, Value>,
) -> Rendered {
    let members = body.iter().filter(|(k, _)| k.as_str() != "RequestId");
    let body = match format {
        ResponseFormat::Json => {
            let mut out = String::from("{");
            push_json_member(&mut out, "RequestId", &Value::from(request_id), true);
            for (key, value) in members {
                push_json_member(&mut out, key, value, false);
            }
            out.push('}');
            out
        }
        ResponseFormat::Xml => {
            let root = format!("{}Response", xml_name(action));
            let mut out = format!("{XML_DECLARATION}<{root}>");
            write_xml_element(&mut out, "RequestId", &Value::from(request_id));
            for (key, value) in members {
                write_xml_element(&mut out, key, value);
            }
            let _ = write!(out, "</{root}>");
            out
        }
    };
    Rendered {
        status: 200,
        content_type: format.content_type(),
        body,
    }
}

/// An error response with `RequestId`, `HostId`, `Code`, `Message`, `Recommend` and, when
/// present, `AccessDeniedDetail`.
pub fn render_error(format: ResponseFormat, error: &ApiError, ctx: &ErrorContext<'_>) -> Rendered {
    let recommend = recommend_url(error.code(), ctx.product, ctx.request_id);
    let detail: Option<Map<String, Value>> = error.access_denied_detail().map(|d| {
        d.fields()
            .map(|(k, v)| (k.to_owned(), Value::from(v)))
            .collect()
    });
    let fields = [
        ("RequestId", ctx.request_id),
        ("HostId", ctx.host_id),
        ("Code", error.code()),
        ("Message", error.message()),
    ];
    let body = match format {
        ResponseFormat::Json => {
            let mut out = String::from("{");
            for (i, (key, value)) in fields.iter().enumerate() {
                push_json_member(&mut out, key, &Value::from(*value), i == 0);
            }
            push_json_member(&mut out, "Recommend", &Value::from(recommend), false);
            if let Some(detail) = detail {
                push_json_member(
                    &mut out,
                    "AccessDeniedDetail",
                    &Value::Object(detail),
                    false,
                );
            }
            out.push('}');
            out
        }
        ResponseFormat::Xml => {
            let mut out = format!("{XML_DECLARATION}<Error>");
            for (key, value) in fields {
                write_xml_element(&mut out, key, &Value::from(value));
            }
            // Alibaba wraps the link in CDATA; kept for byte-level familiarity.
            let _ = write!(out, "<Recommend>{}</Recommend>", cdata(&recommend));
            if let Some(detail) = detail {
                write_xml_element(&mut out, "AccessDeniedDetail", &Value::Object(detail));
            }
            out.push_str("</Error>");
            out
        }
    };
    Rendered {
        status: error.status(),
        content_type: format.content_type(),
        body,
    }
}

fn push_json_member(out: &mut String, key: &str, value: &Value, first: bool) {
    if !first {
        out.push(',');
    }
    out.push_str(&Value::from(key).to_string());
    out.push(':');
    out.push_str(&value.to_string());
}

/// Writes `value` as XML named `name`, the mapping Alibaba uses between its JSON and XML:
/// objects become nested elements, arrays repeat the element once per item (so
/// `"Users":{"User":[a,b]}` is `<Users><User>a</User><User>b</User></Users>`), scalars become
/// escaped text, and `null` members are omitted.
pub fn write_xml_element(out: &mut String, name: &str, value: &Value) {
    match value {
        Value::Null => {}
        Value::Array(items) => {
            for item in items {
                write_xml_element(out, name, item);
            }
        }
        Value::Object(members) => {
            let name = xml_name(name);
            let _ = write!(out, "<{name}>");
            for (key, member) in members {
                write_xml_element(out, key, member);
            }
            let _ = write!(out, "</{name}>");
        }
        Value::Bool(b) => write_xml_text(out, name, if *b { "true" } else { "false" }),
        Value::Number(n) => write_xml_text(out, name, &n.to_string()),
        Value::String(s) => write_xml_text(out, name, s),
    }
}

fn write_xml_text(out: &mut String, name: &str, text: &str) {
    let name = xml_name(name);
    let _ = write!(out, "<{name}>{}</{name}>", xml_escape(text));
}

/// Escapes text for element content or attribute values. Characters XML 1.0 cannot carry at
/// all (most C0 controls, U+FFFE, U+FFFF) become U+FFFD rather than producing a document the
/// client's parser rejects.
pub fn xml_escape(text: &str) -> Cow<'_, str> {
    let needs_work = |c: char| matches!(c, '&' | '<' | '>' | '"' | '\'' | '\r') || !xml_char(c);
    if !text.chars().any(needs_work) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // A literal CR would be normalised away by the parser; the reference keeps it.
            '\r' => out.push_str("&#13;"),
            c if !xml_char(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn cdata(text: &str) -> String {
    format!("<![CDATA[{}]]>", text.replace("]]>", "]]]]><![CDATA[>"))
}

/// Element names come from JSON keys the server chose, but the success root embeds the
/// client's `Action`; anything that is not a plain XML name is made into one so the document
/// always parses.
fn xml_name(name: &str) -> Cow<'_, str> {
    let ok_start = |c: char| c.is_ascii_alphabetic() || c == '_';
    let ok_rest = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(ok_start) && chars.all(ok_rest);
    if valid {
        return Cow::Borrowed(name);
    }
    let mut out = String::from("_");
    out.extend(name.chars().map(|c| if ok_rest(c) { c } else { '_' }));
    Cow::Owned(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::error::AccessDeniedDetail;
    use serde_json::json;

    const RID: &str = "04F0F334-1335-436C-A1D7-6C044FE73368";

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    fn ram_ctx() -> ErrorContext<'static> {
        ErrorContext {
            request_id: "455059DD-F146-4F5A-93F0-74FD23470AE0",
            host_id: "ram.aliyuncs.com",
            product: "Ram",
        }
    }

    #[test]
    fn format_selection() {
        use ResponseFormat::{Json, Xml};
        assert_eq!(negotiate_format(Some("json"), None), Ok(Json));
        assert_eq!(negotiate_format(Some("JSON"), None), Ok(Json));
        assert_eq!(negotiate_format(Some("Xml"), None), Ok(Xml));
        assert_eq!(
            negotiate_format(Some("xml"), Some("application/json")),
            Ok(Xml)
        );
        assert_eq!(negotiate_format(Some("json"), Some("text/xml")), Ok(Json));
        assert_eq!(negotiate_format(None, None), Ok(Json));
        assert_eq!(negotiate_format(None, Some("application/json")), Ok(Json));
        assert_eq!(negotiate_format(None, Some("*/*")), Ok(Json));
        assert_eq!(negotiate_format(None, Some("application/xml")), Ok(Xml));
        let err = negotiate_format(Some("yaml"), None).unwrap_err();
        assert_eq!(err, RequestError::InvalidFormat("yaml".into()));
        assert_eq!(ApiError::from(err).code(), "InvalidParameter.Format");
        assert!(negotiate_format(Some(""), None).is_err());
    }

    #[test]
    fn json_success_starts_with_request_id_and_keeps_wrapper_objects() {
        let body = object(json!({
            "User": {"UserName": "alice", "DisplayName": "Alice Zhang"},
            "RequestId": "ignored",
        }));
        let out = render_success(ResponseFormat::Json, "GetUser", RID, &body);
        assert_eq!(out.status, 200);
        assert_eq!(out.content_type, "application/json;charset=utf-8");
        assert!(out.body.starts_with(&format!(r#"{{"RequestId":"{RID}","#)));
        let parsed: Value = serde_json::from_str(&out.body).unwrap();
        assert_eq!(
            parsed,
            json!({"RequestId": RID, "User": {"UserName": "alice", "DisplayName": "Alice Zhang"}})
        );
    }

    #[test]
    fn xml_success_repeats_list_items_inside_the_wrapper() {
        let body = object(json!({
            "IsTruncated": true,
            "Marker": "EXAMPLE",
            "Users": {"User": [
                {"UserId": "1", "UserName": "alice"},
                {"UserId": "2", "UserName": "bob"},
            ]},
            "Omitted": null,
        }));
        let out = render_success(ResponseFormat::Xml, "ListUsers", RID, &body);
        assert_eq!(out.content_type, "text/xml;charset=utf-8");
        assert_eq!(
            out.body,
            format!(
                "<?xml version='1.0' encoding='UTF-8'?><ListUsersResponse>\
                 <RequestId>{RID}</RequestId><IsTruncated>true</IsTruncated><Marker>EXAMPLE</Marker>\
                 <Users><User><UserId>1</UserId><UserName>alice</UserName></User>\
                 <User><UserId>2</UserId><UserName>bob</UserName></User></Users>\
                 </ListUsersResponse>"
            )
        );
    }

    #[test]
    fn xml_renders_numbers_empty_lists_and_plain_arrays() {
        let body = object(json!({
            "MaxSessionDuration": 3600,
            "Policies": {"Policy": []},
            "TagResources": [{"ResourceName": "r1"}, {"ResourceName": "r2"}],
        }));
        let out = render_success(ResponseFormat::Xml, "X", RID, &body);
        assert!(out
            .body
            .contains("<MaxSessionDuration>3600</MaxSessionDuration>"));
        assert!(out.body.contains("<Policies></Policies>"));
        assert!(out.body.contains(
            "<TagResources><ResourceName>r1</ResourceName></TagResources>\
             <TagResources><ResourceName>r2</ResourceName></TagResources>"
        ));
    }

    #[test]
    fn xml_text_is_escaped() {
        assert_eq!(
            xml_escape(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &apos;Jerry&apos;&lt;/a&gt;"
        );
        assert_eq!(xml_escape("plain 中文"), "plain 中文");
        assert_eq!(
            xml_escape("a\u{0}b\u{1b}c\td\ne\rf"),
            "a\u{FFFD}b\u{FFFD}c\td\ne&#13;f"
        );
        let body = object(json!({"Comments": "a]]>b</Comments><x>"}));
        let out = render_success(ResponseFormat::Xml, "CreateUser", RID, &body);
        assert!(out
            .body
            .contains("<Comments>a]]&gt;b&lt;/Comments&gt;&lt;x&gt;</Comments>"));
    }

    #[test]
    fn hostile_names_still_produce_well_formed_xml() {
        let body = object(json!({"1 bad<key>": "v"}));
        let out = render_success(ResponseFormat::Xml, "<script>", RID, &body);
        assert!(out.body.contains("<__script_Response>"));
        assert!(out.body.contains("<_1_bad_key_>v</_1_bad_key_>"));
        assert!(!out.body.contains("<script>"));
    }

    #[test]
    fn json_error_envelope() {
        let err = ApiError::new("EntityNotExist.User", "The user does not exist.", 404);
        let out = render_error(ResponseFormat::Json, &err, &ram_ctx());
        assert_eq!(out.status, 404);
        assert_eq!(out.content_type, "application/json;charset=utf-8");
        assert_eq!(
            out.body,
            r#"{"RequestId":"455059DD-F146-4F5A-93F0-74FD23470AE0","HostId":"ram.aliyuncs.com","Code":"EntityNotExist.User","Message":"The user does not exist.","Recommend":"https://api.aliyun.com/troubleshoot?q=EntityNotExist.User&product=Ram&requestId=455059DD-F146-4F5A-93F0-74FD23470AE0"}"#
        );
    }

    #[test]
    fn xml_error_envelope_matches_the_observed_shape() {
        let ctx = ErrorContext {
            request_id: "B3311876-0000-4000-8000-000000000000",
            ..ram_ctx()
        };
        let out = render_error(ResponseFormat::Xml, &ApiError::invalid_action(), &ctx);
        assert_eq!(out.status, 404);
        assert_eq!(out.content_type, "text/xml;charset=utf-8");
        assert_eq!(
            out.body,
            "<?xml version='1.0' encoding='UTF-8'?><Error>\
             <RequestId>B3311876-0000-4000-8000-000000000000</RequestId>\
             <HostId>ram.aliyuncs.com</HostId><Code>InvalidAction.NotFound</Code>\
             <Message>Specified api is not found, please check your url and method.</Message>\
             <Recommend><![CDATA[https://api.aliyun.com/troubleshoot?q=InvalidAction.NotFound&product=Ram&requestId=B3311876-0000-4000-8000-000000000000]]></Recommend>\
             </Error>"
        );
    }

    #[test]
    fn error_messages_are_escaped_in_both_formats() {
        let err = ApiError::new("X", r#"bad "name" <&>"#, 400);
        let xml = render_error(ResponseFormat::Xml, &err, &ram_ctx()).body;
        assert!(xml.contains("<Message>bad &quot;name&quot; &lt;&amp;&gt;</Message>"));
        let json = render_error(ResponseFormat::Json, &err, &ram_ctx()).body;
        let parsed: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed["Message"], r#"bad "name" <&>"#);
    }

    #[test]
    fn access_denied_detail_is_rendered_when_present() {
        let err = ApiError::no_permission().with_access_denied_detail(AccessDeniedDetail {
            policy_type: Some("AccountLevelIdentityBasedPolicy".into()),
            auth_principal_type: Some("SubUser".into()),
            no_permission_type: Some("ImplicitDeny".into()),
            auth_action: Some("ram:ListUsers".into()),
            ..AccessDeniedDetail::default()
        });
        let json = render_error(ResponseFormat::Json, &err, &ram_ctx());
        assert_eq!(json.status, 403);
        let parsed: Value = serde_json::from_str(&json.body).unwrap();
        assert_eq!(
            parsed["AccessDeniedDetail"],
            json!({
                "PolicyType": "AccountLevelIdentityBasedPolicy",
                "AuthPrincipalType": "SubUser",
                "NoPermissionType": "ImplicitDeny",
                "AuthAction": "ram:ListUsers",
            })
        );
        assert_eq!(parsed["Code"], "NoPermission");
        let xml = render_error(ResponseFormat::Xml, &err, &ram_ctx()).body;
        assert!(xml.contains("<AccessDeniedDetail>"));
        assert!(xml.contains("<AuthAction>ram:ListUsers</AuthAction>"));
        assert!(xml.ends_with("</AccessDeniedDetail></Error>"));

        let plain = render_error(ResponseFormat::Json, &ApiError::no_permission(), &ram_ctx());
        assert!(!plain.body.contains("AccessDeniedDetail"));
    }

    #[test]
    fn cdata_cannot_be_closed_early() {
        assert_eq!(cdata("a]]>b"), "<![CDATA[a]]]]><![CDATA[>b]]>");
        let url = recommend_url("A&B", "Ram", "id");
        assert_eq!(
            url,
            "https://api.aliyun.com/troubleshoot?q=A%26B&product=Ram&requestId=id"
        );
    }
}
