//! Signed SAML responses: signature verification and the checks STS makes on the assertion.
//!
//! The order matters and is the security argument:
//! 1. The raw text is refused if it declares a DTD or an entity, before any parser sees it, and
//!    it is parsed as UTF-8 whatever it declares, so the text checked is the text parsed.
//! 2. The structure is pinned down before any cryptography: every `ds:Signature` must be an
//!    enveloped, direct child of the `Response` root or of the one `Assertion` directly under
//!    it, with exactly one same-document `Reference` whose URI is its own parent's (unique) ID.
//!    With exactly one `Assertion` in the whole document, the element a signature covers and the
//!    element we read are then the same node, which is what defeats signature wrapping (XSW).
//! 3. libxmlsec1 verifies every signature present with a key loaded from the provider's
//!    metadata certificates; `KeyInfo` in the message is never consulted.
//! 4. Only then are facts read, from that `Assertion` alone.

use base64::Engine as _;
use libxml::parser::{Parser, ParserOptions};
use libxml::tree::{Document, Node, NodeType};
use xmlsec::{XmlSecDocumentExt as _, XmlSecKey, XmlSecKeyFormat, XmlSecSignatureContext};

use super::metadata::IdpMetadata;

/// `SubjectConfirmationData/@Recipient` values Alibaba accepts (international site, China site).
pub const ALIBABA_RECIPIENTS: [&str; 2] = [
    "https://signin.alibabacloud.com/saml-role/sso",
    "https://signin.aliyun.com/saml-role/sso",
];

/// `AudienceRestriction/Audience` values Alibaba accepts (international site, China site).
pub const ALIBABA_AUDIENCES: [&str; 2] = [
    "urn:alibaba:cloudcomputing:international",
    "urn:alibaba:cloudcomputing",
];

/// Multi-valued attribute; each value is `"<roleArn>,<samlProviderArn>"`.
pub const ROLE_ATTRIBUTE: &str = "https://www.aliyun.com/SAML-Role/Attributes/Role";
/// Single-valued attribute that becomes the STS `RoleSessionName`.
pub const ROLE_SESSION_NAME_ATTRIBUTE: &str =
    "https://www.aliyun.com/SAML-Role/Attributes/RoleSessionName";

/// The `SAMLAssertion` parameter's documented maximum length.
pub const MAX_SAML_RESPONSE_B64_LEN: usize = 100_000;

const NAMEID_FORMAT_UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";
const NAMEID_FORMAT_PREFIXES: [&str; 2] = [
    "urn:oasis:names:tc:SAML:2.0:nameid-format:",
    "urn:oasis:names:tc:SAML:1.1:nameid-format:",
];

const NS_PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const NS_ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const NS_DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const CM_BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

const C14N_ALGORITHMS: [&str; 6] = [
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments",
    "http://www.w3.org/2006/12/xml-c14n11",
    "http://www.w3.org/2006/12/xml-c14n11#WithComments",
];
const ENVELOPED_TRANSFORM: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
// SHA-1 is left out on purpose: collisions are practical, and every current IdP can do SHA-256.
const SIGNATURE_ALGORITHMS: [&str; 6] = [
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
];
const DIGEST_ALGORITHMS: [&str; 3] = [
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
];

/// What the caller requires of the assertion, and the time to judge it at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlExpectations {
    /// Accepted `SubjectConfirmationData/@Recipient` values, compared ignoring ASCII case.
    pub recipients: Vec<String>,
    /// Accepted `Audience` values, compared exactly.
    pub audiences: Vec<String>,
    /// The server's clock, in Unix seconds.
    pub now_unix_secs: i64,
    /// Allowed clock difference with the IdP, in seconds, applied to every time bound.
    pub skew_secs: i64,
}

impl SamlExpectations {
    /// Alibaba's own recipients and audiences (both sites).
    pub fn alibaba(now_unix_secs: i64, skew_secs: i64) -> Self {
        Self {
            recipients: ALIBABA_RECIPIENTS.iter().map(|s| (*s).to_owned()).collect(),
            audiences: ALIBABA_AUDIENCES.iter().map(|s| (*s).to_owned()).collect(),
            now_unix_secs,
            skew_secs,
        }
    }
}

/// Which element carried a signature that verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedElement {
    Response,
    Assertion,
    Both,
}

impl std::fmt::Display for SignedElement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Response => "Response",
            Self::Assertion => "Assertion",
            Self::Both => "Response and Assertion",
        })
    }
}

/// The time bounds an assertion carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeBound {
    ConditionsNotBefore,
    ConditionsNotOnOrAfter,
    SubjectConfirmationNotBefore,
    SubjectConfirmationNotOnOrAfter,
}

impl std::fmt::Display for TimeBound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::ConditionsNotBefore => "Conditions/@NotBefore",
            Self::ConditionsNotOnOrAfter => "Conditions/@NotOnOrAfter",
            Self::SubjectConfirmationNotBefore => "SubjectConfirmationData/@NotBefore",
            Self::SubjectConfirmationNotOnOrAfter => "SubjectConfirmationData/@NotOnOrAfter",
        })
    }
}

/// One `"<roleArn>,<samlProviderArn>"` value of the Role attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolePair {
    pub role_arn: String,
    pub provider_arn: String,
}

impl RolePair {
    /// Alibaba documents role first, provider second; the reverse order is also accepted (as
    /// AWS does for its equivalent attribute) because the two ARNs are told apart by their
    /// resource type, so nothing becomes ambiguous.
    pub fn parse(value: &str) -> Option<Self> {
        let (a, b) = value.split_once(',')?;
        if b.contains(',') {
            return None;
        }
        let (a, b) = (a.trim(), b.trim());
        let is_role = |s: &str| arn_resource(s).is_some_and(|r| r.starts_with("role/"));
        let is_provider =
            |s: &str| arn_resource(s).is_some_and(|r| r.starts_with("saml-provider/"));
        let (role, provider) = if is_role(a) && is_provider(b) {
            (a, b)
        } else if is_provider(a) && is_role(b) {
            (b, a)
        } else {
            return None;
        };
        Some(Self {
            role_arn: role.to_owned(),
            provider_arn: provider.to_owned(),
        })
    }
}

/// The resource part of `acs:ram::<account>:<resource>`, if `arn` has that shape.
fn arn_resource(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("acs:ram::")?;
    let (account, resource) = rest.split_once(':')?;
    (!account.is_empty() && account.bytes().all(|b| b.is_ascii_digit()) && resource.len() > 1)
        .then_some(resource)
}

/// The facts of an assertion whose signature, issuer, recipient, audience and validity window
/// have all been checked. Everything here comes from the signed Assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion {
    /// `Assertion/@ID`; the server keeps it until `not_on_or_after + skew` to refuse replays.
    pub assertion_id: String,
    pub issuer: String,
    /// `Subject/NameID`.
    pub subject: String,
    /// `NameID/@Format`, the full URI (SAML's `unspecified` when absent).
    pub subject_format: String,
    /// `SubjectConfirmationData/@Recipient`, as the assertion spells it.
    pub recipient: String,
    /// Every `Audience` of every `AudienceRestriction`.
    pub audiences: Vec<String>,
    /// The earliest `NotOnOrAfter` (Conditions and SubjectConfirmationData), Unix seconds.
    pub not_on_or_after: i64,
    /// `(Name, values)` of each `Attribute`, in document order.
    pub attributes: Vec<(String, Vec<String>)>,
    pub signed: SignedElement,
}

impl VerifiedAssertion {
    /// `SAMLAssertionInfo.SubjectType`: the NameID format without its SAML URN prefix.
    pub fn subject_type(&self) -> &str {
        NAMEID_FORMAT_PREFIXES
            .iter()
            .find_map(|p| self.subject_format.strip_prefix(p))
            .unwrap_or(&self.subject_format)
    }

    /// All values of the attribute `name` (an attribute may be repeated).
    pub fn attribute_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.attributes
            .iter()
            .filter(move |(n, _)| n == name)
            .flat_map(|(_, v)| v.iter().map(String::as_str))
    }

    /// The role/provider pairs the IdP grants; malformed values are skipped here
    /// (`verify_response` has already refused any).
    pub fn role_pairs(&self) -> Vec<RolePair> {
        self.attribute_values(ROLE_ATTRIBUTE)
            .filter_map(RolePair::parse)
            .collect()
    }

    /// The RoleSessionName attribute, when it has exactly one value.
    pub fn role_session_name(&self) -> Option<&str> {
        let mut values = self.attribute_values(ROLE_SESSION_NAME_ATTRIBUTE);
        match (values.next(), values.next()) {
            (Some(v), None) => Some(v),
            _ => None,
        }
    }

    /// Until when a replay cache must remember `assertion_id`: the assertion is accepted while
    /// `now - skew < not_on_or_after`.
    pub fn replay_cache_until(&self, skew_secs: i64) -> i64 {
        self.not_on_or_after.saturating_add(skew_secs.max(0))
    }
}

/// Why a SAML response was refused. Messages name the failed check and the values seen, never
/// key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SamlError {
    #[error("SAMLAssertion is longer than {MAX_SAML_RESPONSE_B64_LEN} characters")]
    TooLarge,
    #[error(
        "SAMLAssertion is not valid Base64 (it must be the Base64 of the whole SAML Response)"
    )]
    Base64,
    #[error("the SAML response is not UTF-8 text")]
    NotUtf8,
    #[error("the SAML response contains a DOCTYPE or entity declaration; these are refused")]
    Dtd,
    #[error("the SAML response is not well-formed XML")]
    MalformedXml,
    #[error("the document element is {0}, not a SAML 2.0 protocol Response")]
    NotAResponse(String),
    #[error("the SAML response carries an EncryptedAssertion; encrypted assertions are not supported, configure the IdP to send the Assertion signed but unencrypted")]
    EncryptedAssertion,
    #[error("the ID {0:?} occurs more than once in the SAML response")]
    DuplicateId(String),
    #[error("a Signature is not a direct child of the Response or of its Assertion, or an element has several; signature wrapping is refused")]
    SignatureMisplaced,
    #[error("the Signature's Reference is not usable: {0}")]
    SignatureReference(String),
    #[error("the Signature uses {0}, which is not accepted (RSA or ECDSA with SHA-256/384/512, and XML canonicalization transforms only)")]
    UnsupportedAlgorithm(String),
    #[error("the SAML response must contain exactly one Assertion, directly under the Response; found {0}")]
    AssertionCount(usize),
    #[error("neither the Response nor the Assertion is signed")]
    Unsigned,
    #[error("the SAML provider's metadata holds no usable signing certificate")]
    NoTrustedCertificate,
    #[error("the signature on the {0} does not verify with any signing certificate of the SAML provider's metadata")]
    SignatureInvalid(SignedElement),
    #[error("the SAML response status is {0:?}, not Success")]
    StatusNotSuccess(String),
    #[error("the {element} Issuer is {seen:?} but the SAML provider's entity ID is {expected:?}")]
    IssuerMismatch {
        element: &'static str,
        seen: String,
        expected: String,
    },
    #[error("the Assertion is missing a required part or repeats it: {0}")]
    Structure(&'static str),
    #[error("SubjectConfirmation Method is {0:?}, only bearer is accepted")]
    NotBearer(String),
    #[error("SubjectConfirmationData Recipient is {seen:?}; accepted: {accepted:?}")]
    RecipientMismatch { seen: String, accepted: Vec<String> },
    #[error(
        "no accepted Audience in an AudienceRestriction; seen {seen:?}, accepted {accepted:?}"
    )]
    AudienceMismatch {
        seen: Vec<String>,
        accepted: Vec<String>,
    },
    #[error("{bound} {value:?} is not a valid xs:dateTime")]
    BadTime { bound: TimeBound, value: String },
    #[error("the assertion has expired: {bound} is {not_on_or_after} (Unix seconds), now is {now} with {skew}s skew allowed")]
    Expired {
        bound: TimeBound,
        not_on_or_after: i64,
        now: i64,
        skew: i64,
    },
    #[error("the assertion is not valid yet: {bound} is {not_before} (Unix seconds), now is {now} with {skew}s skew allowed")]
    NotYetValid {
        bound: TimeBound,
        not_before: i64,
        now: i64,
        skew: i64,
    },
    #[error("the Assertion has no {ROLE_ATTRIBUTE} attribute value")]
    MissingRoleAttribute,
    #[error("the Role attribute value {0:?} is not \"<roleArn>,<samlProviderArn>\"")]
    InvalidRoleValue(String),
    #[error("the Assertion must carry exactly one {ROLE_SESSION_NAME_ATTRIBUTE} attribute value")]
    MissingRoleSessionName,
}

impl SamlError {
    /// The Alibaba STS error code for this failure.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Expired { .. } | Self::NotYetValid { .. } => {
                "AuthenticationFail.SAMLAssertion.Expired"
            }
            Self::NoTrustedCertificate => "AuthenticationFail.IDPMetadata.Invalid",
            _ => "AuthenticationFail.SAMLAssertion.Invalid",
        }
    }
}

/// Verifies a Base64 SAML Response (the STS `SAMLAssertion` parameter) against the provider's
/// metadata and the caller's expectations.
pub fn verify_response(
    saml_response_b64: &str,
    idp: &IdpMetadata,
    expect: &SamlExpectations,
) -> Result<VerifiedAssertion, SamlError> {
    let text = decode(saml_response_b64)?;
    refuse_markup_declarations(&text)?;
    let doc = parse(&text)?;
    let root = doc.get_root_element().ok_or(SamlError::MalformedXml)?;
    if !is(&root, NS_PROTOCOL, "Response") {
        return Err(SamlError::NotAResponse(root.get_name()));
    }

    let all = descendants(&root);
    if all
        .iter()
        .any(|n| is(n, NS_ASSERTION, "EncryptedAssertion"))
    {
        return Err(SamlError::EncryptedAssertion);
    }
    check_unique_ids(&all)?;
    let signatures = locate_signatures(&root, &all)?;
    let assertion = the_assertion(&root, &all)?;
    if signatures.is_empty() {
        return Err(SamlError::Unsigned);
    }
    for sig in &signatures {
        check_algorithms(&sig.node)?;
    }
    let signed = verify_signatures(&doc, &signatures, idp)?;

    check_status(&root)?;
    if signed != SignedElement::Assertion {
        if let Some(issuer) = single_child(&root, NS_ASSERTION, "Issuer")? {
            check_issuer("Response", &issuer, idp)?;
        }
    }
    read_assertion(&assertion, signed, idp, expect)
}

fn decode(b64: &str) -> Result<String, SamlError> {
    if b64.len() > MAX_SAML_RESPONSE_B64_LEN {
        return Err(SamlError::TooLarge);
    }
    // HTTP-POST binding values are often wrapped at 76 columns.
    let compact: Vec<u8> = b64.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| SamlError::Base64)?;
    let text = String::from_utf8(bytes).map_err(|_| SamlError::NotUtf8)?;
    // A NUL would hide the rest of the text from libxml2 but not from this check.
    if text.contains('\0') {
        return Err(SamlError::NotUtf8);
    }
    Ok(text.strip_prefix('\u{feff}').unwrap_or(&text).to_owned())
}

/// Any `<!` other than a comment or CDATA section is a DTD or a declaration inside one.
fn refuse_markup_declarations(text: &str) -> Result<(), SamlError> {
    let mut rest = text;
    while let Some(at) = rest.find("<!") {
        let after = &rest[at + 2..];
        if !(after.starts_with("--") || after.starts_with("[CDATA[")) {
            return Err(SamlError::Dtd);
        }
        rest = after;
    }
    Ok(())
}

fn parse(text: &str) -> Result<Document, SamlError> {
    let options = ParserOptions {
        recover: false,
        no_def_dtd: true,
        no_error: true,
        no_warning: true,
        pedantic: false,
        no_blanks: false,
        no_net: true,
        no_implied: false,
        huge: false,
        compact: false,
        // The declared encoding is ignored so that libxml2 reads the very UTF-8 we screened.
        ignore_enc: true,
        encoding: Some("UTF-8"),
    };
    let doc = Parser::default()
        .parse_string_with_options(text, options)
        .map_err(|_| SamlError::MalformedXml)?;
    let top = doc.as_node().get_child_nodes();
    if top.iter().any(|n| {
        matches!(
            n.get_type(),
            Some(NodeType::DTDNode | NodeType::DocumentTypeNode)
        )
    }) {
        return Err(SamlError::Dtd);
    }
    Ok(doc)
}

fn is(node: &Node, ns: &str, local: &str) -> bool {
    node.get_type() == Some(NodeType::ElementNode)
        && node.get_name() == local
        && node.get_namespace().is_some_and(|n| n.get_href() == ns)
}

/// `node` and all elements below it, in document order.
fn descendants(node: &Node) -> Vec<Node> {
    let mut out = Vec::new();
    let mut stack = vec![node.clone()];
    while let Some(n) = stack.pop() {
        let mut children = n.get_child_elements();
        children.reverse();
        out.push(n);
        stack.extend(children);
    }
    out
}

fn children<'a>(node: &Node, ns: &'a str, local: &'a str) -> impl Iterator<Item = Node> + 'a {
    node.get_child_elements()
        .into_iter()
        .filter(move |c| is(c, ns, local))
}

/// The child `ns:local` if there is one; several are an error.
fn single_child(node: &Node, ns: &str, local: &'static str) -> Result<Option<Node>, SamlError> {
    let mut it = children(node, ns, local);
    match (it.next(), it.next()) {
        (first, None) => Ok(first),
        _ => Err(SamlError::Structure(local)),
    }
}

fn required_child(node: &Node, ns: &str, local: &'static str) -> Result<Node, SamlError> {
    single_child(node, ns, local)?.ok_or(SamlError::Structure(local))
}

fn text(node: &Node) -> String {
    node.get_content().trim().to_owned()
}

/// Every ID-like attribute counts, whatever its namespace (including `xml:id`, which libxml2
/// registers as an ID by itself): a reference must not be able to resolve to two elements.
fn check_unique_ids(all: &[Node]) -> Result<(), SamlError> {
    let mut seen = std::collections::HashSet::new();
    for node in all {
        for ((name, _ns), value) in node.get_properties_ns() {
            if matches!(name.as_str(), "ID" | "Id" | "id") && !seen.insert(value.clone()) {
                return Err(SamlError::DuplicateId(value));
            }
        }
    }
    Ok(())
}

struct Located {
    node: Node,
    on: SignedElement,
}

fn locate_signatures(root: &Node, all: &[Node]) -> Result<Vec<Located>, SamlError> {
    let mut found: Vec<Located> = Vec::new();
    for sig in all.iter().filter(|n| is(n, NS_DSIG, "Signature")) {
        let parent = sig.get_parent().ok_or(SamlError::SignatureMisplaced)?;
        let on = if &parent == root {
            SignedElement::Response
        } else if is(&parent, NS_ASSERTION, "Assertion")
            && parent.get_parent().as_ref() == Some(root)
        {
            SignedElement::Assertion
        } else {
            return Err(SamlError::SignatureMisplaced);
        };
        if found.iter().any(|f| f.on == on) {
            return Err(SamlError::SignatureMisplaced);
        }
        check_reference(sig, &parent)?;
        found.push(Located {
            node: sig.clone(),
            on,
        });
    }
    Ok(found)
}

/// Exactly one Reference, and it must name the element the Signature sits in.
fn check_reference(sig: &Node, parent: &Node) -> Result<(), SamlError> {
    let signed_info = sig
        .get_first_element_child()
        .filter(|n| is(n, NS_DSIG, "SignedInfo"))
        .ok_or_else(|| SamlError::SignatureReference("SignedInfo is missing".into()))?;
    let mut refs = children(&signed_info, NS_DSIG, "Reference");
    let reference = match (refs.next(), refs.next()) {
        (Some(r), None) => r,
        _ => {
            return Err(SamlError::SignatureReference(
                "there must be exactly one Reference".into(),
            ))
        }
    };
    let uri = reference.get_attribute_no_ns("URI").unwrap_or_default();
    let id = uri
        .strip_prefix('#')
        .filter(|id| !id.is_empty() && !id.contains('('))
        .ok_or_else(|| {
            SamlError::SignatureReference(format!(
                "URI {uri:?} is not a same-document #id reference"
            ))
        })?;
    let parent_id = parent.get_attribute_no_ns("ID").unwrap_or_default();
    if id != parent_id {
        return Err(SamlError::SignatureReference(format!(
            "it points at #{id} but the Signature is enveloped in the {} with ID {parent_id:?}",
            parent.get_name()
        )));
    }
    Ok(())
}

fn the_assertion(root: &Node, all: &[Node]) -> Result<Node, SamlError> {
    let assertions: Vec<&Node> = all
        .iter()
        .filter(|n| is(n, NS_ASSERTION, "Assertion"))
        .collect();
    match assertions.as_slice() {
        [only] if only.get_parent().as_ref() == Some(root) => Ok((*only).clone()),
        other => Err(SamlError::AssertionCount(other.len())),
    }
}

fn algorithm(node: &Node, local: &'static str) -> Result<String, SamlError> {
    let child = required_child(node, NS_DSIG, local)
        .map_err(|_| SamlError::SignatureReference(format!("{local} is missing or repeated")))?;
    Ok(child.get_attribute_no_ns("Algorithm").unwrap_or_default())
}

/// XPath, XSLT and Base64 transforms, and weak or keyed digests, are refused up front so that
/// libxmlsec1 only ever runs canonicalization over the element we checked.
fn check_algorithms(sig: &Node) -> Result<(), SamlError> {
    let refuse = |alg: String| Err(SamlError::UnsupportedAlgorithm(alg));
    let signed_info = required_child(sig, NS_DSIG, "SignedInfo")?;
    let c14n = algorithm(&signed_info, "CanonicalizationMethod")?;
    if !C14N_ALGORITHMS.contains(&c14n.as_str()) {
        return refuse(c14n);
    }
    let method = algorithm(&signed_info, "SignatureMethod")?;
    if !SIGNATURE_ALGORITHMS.contains(&method.as_str()) {
        return refuse(method);
    }
    let reference = required_child(&signed_info, NS_DSIG, "Reference")?;
    let digest = algorithm(&reference, "DigestMethod")?;
    if !DIGEST_ALGORITHMS.contains(&digest.as_str()) {
        return refuse(digest);
    }
    if let Some(transforms) = single_child(&reference, NS_DSIG, "Transforms")? {
        for t in transforms.get_child_elements() {
            let alg = t.get_attribute_no_ns("Algorithm").unwrap_or_default();
            if !is(&t, NS_DSIG, "Transform")
                || !(alg == ENVELOPED_TRANSFORM || C14N_ALGORITHMS.contains(&alg.as_str()))
            {
                return refuse(alg);
            }
        }
    }
    Ok(())
}

/// Every signature present must verify: a broken one means the message was tampered with,
/// even if another signature would have sufficed.
fn verify_signatures(
    doc: &Document,
    signatures: &[Located],
    idp: &IdpMetadata,
) -> Result<SignedElement, SamlError> {
    // libxmlsec1 resolves `#id` through libxml2's ID table; only these two elements' IDs are
    // registered, and check_unique_ids has already made them unambiguous.
    doc.specify_idattr(
        "/samlp:Response | /samlp:Response/saml:Assertion",
        "ID",
        Some(&[("samlp", NS_PROTOCOL), ("saml", NS_ASSERTION)]),
    )
    .map_err(|e| SamlError::SignatureReference(e.to_string()))?;

    let mut any_key = false;
    for sig in signatures {
        let mut verified = false;
        for cert in &idp.signing_certificates {
            // A key built from the metadata certificate alone: with a key set on the context,
            // libxmlsec1 does not look at the message's KeyInfo at all.
            let Ok(key) = XmlSecKey::from_memory(&cert.der, XmlSecKeyFormat::CertDer, None) else {
                continue;
            };
            any_key = true;
            let mut ctx = XmlSecSignatureContext::new();
            ctx.insert_key(key);
            if matches!(ctx.verify_node(&sig.node), Ok(true)) {
                verified = true;
                break;
            }
        }
        if !any_key {
            return Err(SamlError::NoTrustedCertificate);
        }
        if !verified {
            return Err(SamlError::SignatureInvalid(sig.on));
        }
    }
    let response = signatures.iter().any(|s| s.on == SignedElement::Response);
    let assertion = signatures.iter().any(|s| s.on == SignedElement::Assertion);
    Ok(match (response, assertion) {
        (true, true) => SignedElement::Both,
        (true, false) => SignedElement::Response,
        _ => SignedElement::Assertion,
    })
}

/// A non-success status can only make us refuse, so reading it from an unsigned Response is
/// safe.
fn check_status(root: &Node) -> Result<(), SamlError> {
    let Some(status) = single_child(root, NS_PROTOCOL, "Status")? else {
        return Ok(());
    };
    let code = required_child(&status, NS_PROTOCOL, "StatusCode")?;
    let value = code.get_attribute_no_ns("Value").unwrap_or_default();
    if value != STATUS_SUCCESS {
        return Err(SamlError::StatusNotSuccess(value));
    }
    Ok(())
}

fn check_issuer(
    element: &'static str,
    issuer: &Node,
    idp: &IdpMetadata,
) -> Result<String, SamlError> {
    let seen = text(issuer);
    if seen != idp.entity_id {
        return Err(SamlError::IssuerMismatch {
            element,
            seen,
            expected: idp.entity_id.clone(),
        });
    }
    Ok(seen)
}

fn read_assertion(
    assertion: &Node,
    signed: SignedElement,
    idp: &IdpMetadata,
    expect: &SamlExpectations,
) -> Result<VerifiedAssertion, SamlError> {
    let assertion_id = assertion
        .get_attribute_no_ns("ID")
        .filter(|id| !id.is_empty())
        .ok_or(SamlError::Structure("Assertion/@ID"))?;
    let issuer = check_issuer(
        "Assertion",
        &required_child(assertion, NS_ASSERTION, "Issuer")?,
        idp,
    )?;

    let subject = required_child(assertion, NS_ASSERTION, "Subject")?;
    let name_id = required_child(&subject, NS_ASSERTION, "NameID")?;
    let confirmation = required_child(&subject, NS_ASSERTION, "SubjectConfirmation")?;
    let method = confirmation
        .get_attribute_no_ns("Method")
        .unwrap_or_default();
    if method != CM_BEARER {
        return Err(SamlError::NotBearer(method));
    }
    let data = required_child(&confirmation, NS_ASSERTION, "SubjectConfirmationData")?;
    let recipient = data
        .get_attribute_no_ns("Recipient")
        .ok_or(SamlError::Structure("SubjectConfirmationData/@Recipient"))?;
    // Alibaba's own examples spell the path both /sso and /SSO.
    if !expect
        .recipients
        .iter()
        .any(|r| r.eq_ignore_ascii_case(recipient.trim()))
    {
        return Err(SamlError::RecipientMismatch {
            seen: recipient,
            accepted: expect.recipients.clone(),
        });
    }

    let conditions = required_child(assertion, NS_ASSERTION, "Conditions")?;
    let mut audiences = Vec::new();
    let mut restrictions = 0;
    for restriction in children(&conditions, NS_ASSERTION, "AudienceRestriction") {
        restrictions += 1;
        let these: Vec<String> = children(&restriction, NS_ASSERTION, "Audience")
            .map(|a| text(&a))
            .collect();
        // SAML: each AudienceRestriction must be satisfied on its own.
        let satisfied = these.iter().any(|a| expect.audiences.contains(a));
        audiences.extend(these);
        if !satisfied {
            return Err(SamlError::AudienceMismatch {
                seen: audiences,
                accepted: expect.audiences.clone(),
            });
        }
    }
    if restrictions == 0 {
        return Err(SamlError::Structure("Conditions/AudienceRestriction"));
    }

    let not_on_or_after = check_times(&conditions, &data, expect)?;
    let attributes = read_attributes(assertion)?;

    let verified = VerifiedAssertion {
        assertion_id,
        issuer,
        subject: text(&name_id),
        subject_format: name_id
            .get_attribute_no_ns("Format")
            .unwrap_or_else(|| NAMEID_FORMAT_UNSPECIFIED.to_owned()),
        recipient,
        audiences,
        not_on_or_after,
        attributes,
        signed,
    };
    {
        let mut roles = verified.attribute_values(ROLE_ATTRIBUTE).peekable();
        if roles.peek().is_none() {
            return Err(SamlError::MissingRoleAttribute);
        }
        if let Some(bad) = roles.find(|v| RolePair::parse(v).is_none()) {
            return Err(SamlError::InvalidRoleValue(bad.to_owned()));
        }
    }
    if verified.role_session_name().is_none_or(str::is_empty) {
        return Err(SamlError::MissingRoleSessionName);
    }
    Ok(verified)
}

/// Checks all four bounds and returns the earliest NotOnOrAfter.
fn check_times(
    conditions: &Node,
    data: &Node,
    expect: &SamlExpectations,
) -> Result<i64, SamlError> {
    let now = expect.now_unix_secs;
    let skew = expect.skew_secs.max(0);
    let read = |node: &Node, attr: &str, bound: TimeBound| -> Result<Option<i64>, SamlError> {
        node.get_attribute_no_ns(attr)
            .map(|v| parse_datetime(&v).ok_or(SamlError::BadTime { bound, value: v }))
            .transpose()
    };
    let not_before = [
        (
            read(conditions, "NotBefore", TimeBound::ConditionsNotBefore)?,
            TimeBound::ConditionsNotBefore,
        ),
        (
            read(data, "NotBefore", TimeBound::SubjectConfirmationNotBefore)?,
            TimeBound::SubjectConfirmationNotBefore,
        ),
    ];
    for (value, bound) in not_before {
        if let Some(nb) = value {
            if now.saturating_add(skew) < nb {
                return Err(SamlError::NotYetValid {
                    bound,
                    not_before: nb,
                    now,
                    skew,
                });
            }
        }
    }
    let scd_bound = TimeBound::SubjectConfirmationNotOnOrAfter;
    let scd = read(data, "NotOnOrAfter", scd_bound)?.ok_or(SamlError::Structure(
        "SubjectConfirmationData/@NotOnOrAfter",
    ))?;
    let cond = read(
        conditions,
        "NotOnOrAfter",
        TimeBound::ConditionsNotOnOrAfter,
    )?;
    let mut earliest = scd;
    for (value, bound) in [
        (Some(scd), scd_bound),
        (cond, TimeBound::ConditionsNotOnOrAfter),
    ] {
        if let Some(noa) = value {
            if now.saturating_sub(skew) >= noa {
                return Err(SamlError::Expired {
                    bound,
                    not_on_or_after: noa,
                    now,
                    skew,
                });
            }
            earliest = earliest.min(noa);
        }
    }
    Ok(earliest)
}

fn read_attributes(assertion: &Node) -> Result<Vec<(String, Vec<String>)>, SamlError> {
    let mut out = Vec::new();
    for statement in children(assertion, NS_ASSERTION, "AttributeStatement") {
        for attribute in children(&statement, NS_ASSERTION, "Attribute") {
            let name = attribute
                .get_attribute_no_ns("Name")
                .ok_or(SamlError::Structure("Attribute/@Name"))?;
            let values = children(&attribute, NS_ASSERTION, "AttributeValue")
                .map(|v| text(&v))
                .collect();
            out.push((name, values));
        }
    }
    Ok(out)
}

/// `xs:dateTime` to Unix seconds: `YYYY-MM-DDThh:mm:ss[.fff][Z|±hh:mm]`, fractions dropped. SAML
/// says times are UTC; a missing zone is read as UTC.
pub fn parse_datetime(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = b.get(range)?;
        digits.iter().all(u8::is_ascii_digit).then(|| {
            digits
                .iter()
                .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'))
        })
    };
    let sep = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(sep(4, b'-') && sep(7, b'-') && sep(10, b'T') && sep(13, b':') && sep(16, b':')) {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut i = 19;
    if sep(i, b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    let offset = match b.get(i) {
        None => 0,
        Some(b'Z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if i + 6 == b.len() && sep(i + 3, b':') => {
            let (h, m) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            if h > 14 || m > 59 {
                return None;
            }
            let secs = h * 3600 + m * 60;
            if sign == b'+' {
                secs
            } else {
                -secs
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 in the proleptic Gregorian calendar (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes() {
        assert_eq!(parse_datetime("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_datetime("2030-01-01T00:00:00Z"), Some(1_893_456_000));
        assert_eq!(
            parse_datetime("2030-01-01T00:00:00.999Z"),
            Some(1_893_456_000)
        );
        assert_eq!(
            parse_datetime("2030-01-01T08:00:00+08:00"),
            Some(1_893_456_000)
        );
        assert_eq!(parse_datetime("2024-02-29T00:00:00Z"), Some(1_709_164_800));
        assert_eq!(parse_datetime("2023-02-29T00:00:00Z"), None);
        assert_eq!(parse_datetime("2030-01-01 00:00:00Z"), None);
        assert_eq!(parse_datetime("2030-01-01T00:00:00Zjunk"), None);
        assert_eq!(parse_datetime("2030-01-01T00:00:00."), None);
    }

    #[test]
    fn role_pairs_in_either_order() {
        let role = "acs:ram::123:role/admin";
        let idp = "acs:ram::123:saml-provider/corp";
        let want = Some(RolePair {
            role_arn: role.into(),
            provider_arn: idp.into(),
        });
        assert_eq!(RolePair::parse(&format!("{role},{idp}")), want);
        assert_eq!(RolePair::parse(&format!("{idp}, {role}")), want);
        assert_eq!(RolePair::parse(&format!("{role},{role}")), None);
        assert_eq!(RolePair::parse(role), None);
        assert_eq!(RolePair::parse(&format!("{role},{idp},x")), None);
    }

    #[test]
    fn declarations_are_refused_but_comments_are_not() {
        assert_eq!(
            refuse_markup_declarations("<a><!-- x --><![CDATA[y]]></a>"),
            Ok(())
        );
        assert_eq!(
            refuse_markup_declarations("<!DOCTYPE a><a/>"),
            Err(SamlError::Dtd)
        );
        assert_eq!(
            refuse_markup_declarations("<a><!ENTITY x 'y'></a>"),
            Err(SamlError::Dtd)
        );
    }

    #[test]
    fn codes() {
        let expired = SamlError::Expired {
            bound: TimeBound::ConditionsNotOnOrAfter,
            not_on_or_after: 1,
            now: 2,
            skew: 0,
        };
        assert_eq!(expired.code(), "AuthenticationFail.SAMLAssertion.Expired");
        assert_eq!(
            SamlError::Unsigned.code(),
            "AuthenticationFail.SAMLAssertion.Invalid"
        );
    }
}
