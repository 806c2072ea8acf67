//! Policy documents: the validated syntax tree, and the reader that builds it from JSON text.
//!
//! Parsing runs in stages: text → JSON tree with spans ([`crate::json`]) → this tree, where every
//! element has been checked against the rules of its document kind and every condition value has
//! been read as its operator's type. Each problem becomes a [`Diagnostic`] with a JSON path and a
//! `line:column`, and the reader keeps going so one run reports every problem.

use std::fmt;

use crate::condition::{BaseOperator, Operator, TypedValues, ValueType};
use crate::json::{self, Json, Node};
use crate::value::{parse_bool, parse_date, parse_number, IpNet};
use crate::wildcard::Pattern;

/// The four kinds of document, each with its own rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// Attached to users, groups and roles. `Resource` required, no `Principal`.
    Identity,
    /// A role's `AssumeRolePolicyDocument`. `Principal` required, no `Resource`, and only
    /// `sts:AssumeRole` actions.
    Trust,
    /// The `Policy` passed to `AssumeRole*`. Like an identity policy, at most 2048 characters.
    Session,
    /// A Resource Directory control policy. Like an identity policy; bounds, never grants.
    Control,
}

impl PolicyKind {
    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::Identity => "identity policy",
            PolicyKind::Trust => "trust policy",
            PolicyKind::Session => "session policy",
            PolicyKind::Control => "control policy",
        }
    }

    /// The name with its article, for messages ("an identity policy").
    pub fn with_article(self) -> &'static str {
        match self {
            PolicyKind::Identity => "an identity policy",
            PolicyKind::Trust => "a trust policy",
            PolicyKind::Session => "a session policy",
            PolicyKind::Control => "a control policy",
        }
    }

    /// The longest document RAM accepts for this kind, in characters.
    ///
    /// Identity 6144 and session 2048 are RAM's documented limits; control policies follow
    /// Resource Directory's 4096. RAM documents no limit for trust policies; Rampart chooses 4096.
    pub fn max_chars(self) -> usize {
        match self {
            PolicyKind::Identity => 6144,
            PolicyKind::Session => 2048,
            PolicyKind::Control | PolicyKind::Trust => 4096,
        }
    }

    /// Checks the size limit; the API layer maps the error to its own code
    /// (`InvalidParameter.PolicyDocument.Length`, `InvalidParameter.PolicySize`, …).
    pub fn check_size(self, text: &str) -> Result<(), SizeError> {
        let chars = text.chars().count();
        if chars > self.max_chars() {
            Err(SizeError {
                kind: self,
                limit: self.max_chars(),
                actual: chars,
            })
        } else {
            Ok(())
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the {} is {actual} characters long; the limit is {limit}", kind.name())]
pub struct SizeError {
    pub kind: PolicyKind,
    pub limit: usize,
    pub actual: usize,
}

impl SizeError {
    /// The size problem as a diagnostic of the whole document, for tools that list both.
    pub fn to_diagnostic(&self) -> Diagnostic {
        Diagnostic {
            path: "$".into(),
            location: Location { line: 1, column: 1 },
            message: self.to_string(),
        }
    }
}

/// Where something is in the source: 1-based line and column (in characters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Location {
    pub line: u32,
    pub column: u32,
}

/// One problem found in a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// JSON path of the offending element, e.g. `$.Statement[0].Action[1]`.
    pub path: String,
    pub location: Location,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {} (at {})",
            self.location.line, self.location.column, self.message, self.path
        )
    }
}

/// A document that failed to parse or validate. Its `Display` is written to serve as the
/// `Message` of `MalformedPolicyDocument` / `InvalidParameter.PolicyGrammar`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.diagnostics.split_first() {
            None => f.write_str("the policy document is malformed"),
            Some((first, rest)) => {
                write!(f, "{first}")?;
                if !rest.is_empty() {
                    write!(
                        f,
                        " (and {} more problem{})",
                        rest.len(),
                        plural(rest.len())
                    )?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for PolicyError {}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Effect {
    Allow,
    Deny,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        }
    }
}

/// A string value and where it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located<T> {
    pub value: T,
    pub path: String,
    pub location: Location,
    /// Byte offset in the source text.
    pub offset: usize,
}

/// `Action` / `NotAction`, or `Resource` / `NotResource`.
#[derive(Clone, Debug)]
pub struct PatternList {
    /// True for the `Not…` form: the statement covers everything *except* these.
    pub negated: bool,
    pub values: Vec<Located<String>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// `"Principal": "*"` (or `{"RAM": "*"}`): anyone.
    Any,
    Entries {
        ram: Vec<String>,
        service: Vec<String>,
        federated: Vec<String>,
    },
}

#[derive(Clone, Debug)]
pub struct Condition {
    pub operator: Operator,
    /// The key as written (keys compare case-insensitively).
    pub key: String,
    pub values: Vec<String>,
    pub typed: TypedValues,
    pub path: String,
    pub location: Location,
}

#[derive(Clone, Debug)]
pub struct Statement {
    /// Position in the document's `Statement` list, from 0.
    pub index: usize,
    pub sid: Option<String>,
    pub effect: Effect,
    pub action: PatternList,
    pub resource: Option<PatternList>,
    pub principal: Option<Principal>,
    pub conditions: Vec<Condition>,
    pub location: Location,
}

/// A parsed and validated policy document.
#[derive(Clone, Debug)]
pub struct Policy {
    pub kind: PolicyKind,
    pub statements: Vec<Statement>,
}

impl Policy {
    /// Parses and validates `text` as a document of `kind`. Size limits are separate
    /// ([`PolicyKind::check_size`]) because the API reports them with their own codes.
    pub fn parse(text: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
        let root = json::parse(text).map_err(|e| PolicyError {
            diagnostics: vec![Diagnostic {
                path: "$".into(),
                location: locate(&json::LineIndex::new(text), e.offset),
                message: format!("invalid JSON: {}", e.message),
            }],
        })?;
        let mut reader = Reader {
            lines: json::LineIndex::new(text),
            kind,
            diagnostics: Vec::new(),
        };
        let statements = reader.document(&root);
        if reader.diagnostics.is_empty() {
            Ok(Policy { kind, statements })
        } else {
            Err(PolicyError {
                diagnostics: reader.diagnostics,
            })
        }
    }
}

fn locate(index: &json::LineIndex<'_>, offset: usize) -> Location {
    let (line, column) = index.line_col(offset);
    Location { line, column }
}

/// The actions a trust policy may name. `sts:AssumeRole` covers every flow; the `With…` forms
/// are accepted as aliases because third-party examples use them.
pub(crate) const TRUST_ACTIONS: [&str; 3] = [
    "sts:assumerole",
    "sts:assumerolewithsaml",
    "sts:assumerolewithoidc",
];

struct Reader<'a> {
    lines: json::LineIndex<'a>,
    kind: PolicyKind,
    diagnostics: Vec<Diagnostic>,
}

impl Reader<'_> {
    fn error(&mut self, path: &str, offset: usize, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic {
            path: path.to_owned(),
            location: locate(&self.lines, offset),
            message: message.into(),
        });
    }

    fn loc(&self, offset: usize) -> Location {
        locate(&self.lines, offset)
    }

    fn document(&mut self, root: &Node) -> Vec<Statement> {
        let Json::Object(members) = &root.value else {
            self.error(
                "$",
                root.span.start,
                format!("a policy must be a JSON object, found {}", root.kind_name()),
            );
            return Vec::new();
        };
        let mut version = None;
        let mut statement = None;
        for m in members {
            match m.key.as_str() {
                "Version" => version = Some(&m.value),
                "Statement" => statement = Some(&m.value),
                other => {
                    let hint = match other.to_ascii_lowercase().as_str() {
                        "version" => " (element names are case-sensitive: \"Version\")",
                        "statement" => " (element names are case-sensitive: \"Statement\")",
                        _ => "",
                    };
                    self.error(
                        &format!("$.{other}"),
                        m.key_span.start,
                        format!("unknown element \"{other}\"{hint}; a policy has only \"Version\" and \"Statement\""),
                    );
                }
            }
        }
        match version {
            None => self.error(
                "$",
                root.span.start,
                "missing \"Version\"; it must be \"1\"",
            ),
            Some(v) => match &v.value {
                Json::String(s) if s == "1" => {}
                _ => self.error(
                    "$.Version",
                    v.span.start,
                    format!(
                        "\"Version\" must be the string \"1\", found {}",
                        describe(v)
                    ),
                ),
            },
        }
        let Some(statement) = statement else {
            self.error("$", root.span.start, "missing \"Statement\"");
            return Vec::new();
        };
        let items: Vec<&Node> = match &statement.value {
            Json::Array(items) => items.iter().collect(),
            Json::Object(_) => vec![statement],
            _ => {
                self.error(
                    "$.Statement",
                    statement.span.start,
                    format!(
                        "\"Statement\" must be a list of statements or one statement object, found {}",
                        statement.kind_name()
                    ),
                );
                return Vec::new();
            }
        };
        let single = matches!(statement.value, Json::Object(_));
        let mut out = Vec::with_capacity(items.len());
        for (index, node) in items.into_iter().enumerate() {
            let path = if single {
                "$.Statement".to_owned()
            } else {
                format!("$.Statement[{index}]")
            };
            if let Some(s) = self.statement(index, &path, node) {
                out.push(s);
            }
        }
        out
    }

    fn statement(&mut self, index: usize, path: &str, node: &Node) -> Option<Statement> {
        let Json::Object(members) = &node.value else {
            self.error(
                path,
                node.span.start,
                format!("a statement must be an object, found {}", node.kind_name()),
            );
            return None;
        };
        let errors_before = self.diagnostics.len();
        let mut sid = None;
        let mut effect = None;
        let mut action: Option<PatternList> = None;
        let mut resource: Option<PatternList> = None;
        let mut principal = None;
        let mut conditions = Vec::new();
        for m in members {
            let p = format!("{path}.{}", m.key);
            match m.key.as_str() {
                "Sid" => match &m.value.value {
                    Json::String(s) => sid = Some(s.clone()),
                    _ => self.error(&p, m.value.span.start, "\"Sid\" must be a string"),
                },
                "Effect" => match &m.value.value {
                    Json::String(s) if s == "Allow" => effect = Some(Effect::Allow),
                    Json::String(s) if s == "Deny" => effect = Some(Effect::Deny),
                    _ => self.error(
                        &p,
                        m.value.span.start,
                        format!(
                            "\"Effect\" must be \"Allow\" or \"Deny\" (case-sensitive), found {}",
                            describe(&m.value)
                        ),
                    ),
                },
                "Action" | "NotAction" => {
                    let negated = m.key == "NotAction";
                    if action.is_some() {
                        self.error(
                            &p,
                            m.key_span.start,
                            "a statement takes exactly one of \"Action\" and \"NotAction\"",
                        );
                    } else if negated && self.kind == PolicyKind::Trust {
                        self.error(
                            &p,
                            m.key_span.start,
                            "a trust policy names its actions with \"Action\", not \"NotAction\"",
                        );
                    } else if let Some(values) = self.strings(&p, &m.value) {
                        for v in &values {
                            self.check_action(v);
                        }
                        action = Some(PatternList { negated, values });
                    }
                }
                "Resource" | "NotResource" => {
                    let negated = m.key == "NotResource";
                    if self.kind == PolicyKind::Trust {
                        self.error(
                            &p,
                            m.key_span.start,
                            format!(
                                "a trust policy has no \"{}\": the resource is the role itself",
                                m.key
                            ),
                        );
                    } else if resource.is_some() {
                        self.error(
                            &p,
                            m.key_span.start,
                            "a statement takes exactly one of \"Resource\" and \"NotResource\"",
                        );
                    } else if let Some(values) = self.strings(&p, &m.value) {
                        for v in &values {
                            self.check_resource(v);
                        }
                        resource = Some(PatternList { negated, values });
                    }
                }
                "Principal" => {
                    if self.kind == PolicyKind::Trust {
                        principal = self.principal(&p, &m.value);
                    } else {
                        self.error(
                            &p,
                            m.key_span.start,
                            format!(
                                "\"Principal\" belongs only in trust policies, not in {}",
                                self.kind.with_article()
                            ),
                        );
                    }
                }
                "Condition" => conditions = self.conditions(&p, &m.value),
                other => {
                    let known = [
                        "Sid",
                        "Effect",
                        "Action",
                        "NotAction",
                        "Resource",
                        "NotResource",
                        "Principal",
                        "Condition",
                    ];
                    let hint = known
                        .iter()
                        .find(|k| k.eq_ignore_ascii_case(other))
                        .map(|k| format!(" (element names are case-sensitive: \"{k}\")"))
                        .unwrap_or_default();
                    self.error(
                        &p,
                        m.key_span.start,
                        format!("unknown statement element \"{other}\"{hint}"),
                    );
                }
            }
        }
        if effect.is_none() && !members.iter().any(|m| m.key == "Effect") {
            self.error(path, node.span.start, "missing \"Effect\"");
        }
        if action.is_none()
            && !members
                .iter()
                .any(|m| m.key == "Action" || m.key == "NotAction")
        {
            self.error(
                path,
                node.span.start,
                "missing \"Action\" (or \"NotAction\")",
            );
        }
        if self.kind != PolicyKind::Trust
            && resource.is_none()
            && !members
                .iter()
                .any(|m| m.key == "Resource" || m.key == "NotResource")
        {
            self.error(path, node.span.start, format!("missing \"Resource\": every statement of {} names its resources (use \"*\" for all)", self.kind.with_article()));
        }
        if self.kind == PolicyKind::Trust
            && principal.is_none()
            && !members.iter().any(|m| m.key == "Principal")
        {
            self.error(
                path,
                node.span.start,
                "missing \"Principal\": a trust policy says who may assume the role",
            );
        }
        if self.diagnostics.len() != errors_before {
            return None;
        }
        Some(Statement {
            index,
            sid,
            effect: effect?,
            action: action?,
            resource,
            principal,
            conditions,
            location: self.loc(node.span.start),
        })
    }

    /// A string or a non-empty list of strings.
    fn strings(&mut self, path: &str, node: &Node) -> Option<Vec<Located<String>>> {
        match &node.value {
            Json::String(s) => Some(vec![Located {
                value: s.clone(),
                path: path.to_owned(),
                location: self.loc(node.span.start),
                offset: node.span.start,
            }]),
            Json::Array(items) if items.is_empty() => {
                self.error(path, node.span.start, "the list is empty");
                None
            }
            Json::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let p = format!("{path}[{i}]");
                    match &item.value {
                        Json::String(s) => out.push(Located {
                            value: s.clone(),
                            path: p,
                            location: self.loc(item.span.start),
                            offset: item.span.start,
                        }),
                        _ => self.error(
                            &p,
                            item.span.start,
                            format!("expected a string, found {}", item.kind_name()),
                        ),
                    }
                }
                (out.len() == items.len()).then_some(out)
            }
            _ => {
                self.error(
                    path,
                    node.span.start,
                    format!(
                        "expected a string or a list of strings, found {}",
                        node.kind_name()
                    ),
                );
                None
            }
        }
    }

    fn check_action(&mut self, v: &Located<String>) {
        let s = v.value.as_str();
        let offset = v.offset;
        if s == "*" {
            return;
        }
        let valid_part = |p: &str| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '*' | '?' | '_' | '-' | '.'))
        };
        match s.split_once(':') {
            Some((service, name)) if valid_part(service) && valid_part(name) => {
                if self.kind == PolicyKind::Trust {
                    let p = Pattern::new_ignore_case(s);
                    if !TRUST_ACTIONS.iter().any(|a| p.matches(a)) {
                        self.error(&v.path, offset, format!("a trust policy may only name \"sts:AssumeRole\", found \"{s}\""));
                    }
                }
            }
            _ => self.error(
                &v.path,
                offset,
                format!("action \"{s}\" is not of the form <service>:<action> (for example \"ecs:DescribeInstances\" or \"oss:*\")"),
            ),
        }
    }

    fn check_resource(&mut self, v: &Located<String>) {
        let s = v.value.as_str();
        if s == "*" {
            return;
        }
        let offset = v.offset;
        let parts: Vec<&str> = s.splitn(5, ':').collect();
        let ok = parts.len() == 5
            && parts.first().is_some_and(|p| *p == "acs" || *p == "*")
            && parts.get(1).is_some_and(|p| !p.is_empty());
        if !ok {
            self.error(
                &v.path,
                offset,
                format!("resource \"{s}\" is not \"*\" or an ARN of the form acs:<service>:<region>:<account-id>:<relative-id>"),
            );
        }
        if s.chars().any(char::is_control) {
            self.error(
                &v.path,
                offset,
                "a resource must not contain control characters",
            );
        }
    }

    fn principal(&mut self, path: &str, node: &Node) -> Option<Principal> {
        match &node.value {
            Json::String(s) if s == "*" => Some(Principal::Any),
            Json::Object(members) if !members.is_empty() => {
                let mut ram = Vec::new();
                let mut service = Vec::new();
                let mut federated = Vec::new();
                let mut ok = true;
                for m in members {
                    let p = format!("{path}.{}", m.key);
                    let target = match m.key.as_str() {
                        "RAM" => &mut ram,
                        "Service" => &mut service,
                        "Federated" => &mut federated,
                        other => {
                            self.error(&p, m.key_span.start, format!("unknown principal type \"{other}\"; expected \"RAM\", \"Service\" or \"Federated\""));
                            ok = false;
                            continue;
                        }
                    };
                    match self.strings(&p, &m.value) {
                        Some(values) => {
                            for v in values {
                                if v.value.trim().is_empty() {
                                    let off = v.offset;
                                    self.error(&v.path, off, "a principal must not be empty");
                                    ok = false;
                                }
                                target.push(v.value);
                            }
                        }
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                // `{"RAM": "*"}` reads as "any principal" too.
                if ram.iter().any(|r| r == "*") {
                    return Some(Principal::Any);
                }
                Some(Principal::Entries {
                    ram,
                    service,
                    federated,
                })
            }
            _ => {
                self.error(path, node.span.start, format!("\"Principal\" must be \"*\" or an object with \"RAM\", \"Service\" or \"Federated\", found {}", describe(node)));
                None
            }
        }
    }

    fn conditions(&mut self, path: &str, node: &Node) -> Vec<Condition> {
        let Json::Object(ops) = &node.value else {
            self.error(
                path,
                node.span.start,
                format!(
                    "\"Condition\" must be an object of operators, found {}",
                    node.kind_name()
                ),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for op_member in ops {
            let op_path = format!("{path}.{}", op_member.key);
            let Some(operator) = Operator::parse(&op_member.key) else {
                let base = op_member.key.rsplit(':').next().unwrap_or_default();
                let hint = BaseOperator::suggest(base)
                    .map(|s| format!(" (operator names are case-sensitive: \"{s}\")"))
                    .unwrap_or_default();
                self.error(
                    &op_path,
                    op_member.key_span.start,
                    format!("unknown condition operator \"{}\"{hint}", op_member.key),
                );
                continue;
            };
            let Json::Object(keys) = &op_member.value.value else {
                self.error(
                    &op_path,
                    op_member.value.span.start,
                    format!(
                        "operator \"{}\" must map condition keys to values, found {}",
                        op_member.key,
                        op_member.value.kind_name()
                    ),
                );
                continue;
            };
            if keys.is_empty() {
                self.error(
                    &op_path,
                    op_member.value.span.start,
                    format!("operator \"{}\" names no condition key", op_member.key),
                );
            }
            for k in keys {
                let key_path = format!("{op_path}.{}", k.key);
                if let Err(why) = check_key(&k.key) {
                    self.error(&key_path, k.key_span.start, why);
                    continue;
                }
                let Some(values) = self.scalars(&key_path, &k.value) else {
                    continue;
                };
                match self.typed(operator, &values) {
                    Some(typed) => out.push(Condition {
                        operator,
                        key: k.key.clone(),
                        values: values.into_iter().map(|v| v.value).collect(),
                        typed,
                        path: key_path,
                        location: self.loc(k.key_span.start),
                    }),
                    None => continue,
                }
            }
        }
        out
    }

    /// Condition values: strings as RAM writes them, but numbers and booleans written bare are
    /// read as their text too, since that is unambiguous.
    fn scalars(&mut self, path: &str, node: &Node) -> Option<Vec<Located<String>>> {
        let one = |n: &Node| match &n.value {
            Json::String(s) => Some(s.clone()),
            Json::Number(s) => Some(s.clone()),
            Json::Bool(b) => Some(b.to_string()),
            _ => None,
        };
        match &node.value {
            Json::Array(items) if items.is_empty() => {
                self.error(path, node.span.start, "the list of values is empty");
                None
            }
            Json::Array(items) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let p = format!("{path}[{i}]");
                    match one(item) {
                        Some(v) => out.push(Located {
                            value: v,
                            path: p,
                            location: self.loc(item.span.start),
                            offset: item.span.start,
                        }),
                        None => self.error(
                            &p,
                            item.span.start,
                            format!(
                                "a condition value must be a string, found {}",
                                item.kind_name()
                            ),
                        ),
                    }
                }
                (out.len() == items.len()).then_some(out)
            }
            _ => match one(node) {
                Some(v) => Some(vec![Located {
                    value: v,
                    path: path.to_owned(),
                    location: self.loc(node.span.start),
                    offset: node.span.start,
                }]),
                None => {
                    self.error(
                        path,
                        node.span.start,
                        format!(
                            "a condition value must be a string or a list of strings, found {}",
                            node.kind_name()
                        ),
                    );
                    None
                }
            },
        }
    }

    fn typed(&mut self, op: Operator, values: &[Located<String>]) -> Option<TypedValues> {
        let ty = op.base.value_type();
        let mut bad = false;
        let mut check = |this: &mut Self, ok: bool, v: &Located<String>, what: &str| {
            if !ok {
                let off = v.offset;
                this.error(
                    &v.path,
                    off,
                    format!("\"{}\" is not {what}, which {} expects", v.value, op.name()),
                );
                bad = true;
            }
        };
        let typed = match op.base {
            BaseOperator::StringEquals | BaseOperator::StringNotEquals => {
                TypedValues::Strings(values.iter().map(|v| v.value.as_str().into()).collect())
            }
            BaseOperator::StringEqualsIgnoreCase | BaseOperator::StringNotEqualsIgnoreCase => {
                TypedValues::FoldedStrings(
                    values
                        .iter()
                        .map(|v| v.value.to_lowercase().into())
                        .collect(),
                )
            }
            BaseOperator::StringLike | BaseOperator::StringNotLike => {
                TypedValues::Patterns(values.iter().map(|v| Pattern::new(&v.value)).collect())
            }
            _ => match ty {
                ValueType::Number => {
                    let mut out = Vec::new();
                    for v in values {
                        let n = parse_number(&v.value);
                        check(self, n.is_some(), v, "a number");
                        out.extend(n);
                    }
                    TypedValues::Numbers(out.into())
                }
                ValueType::Date => {
                    let mut out = Vec::new();
                    for v in values {
                        let n = parse_date(&v.value);
                        check(
                            self,
                            n.is_some(),
                            v,
                            "an ISO 8601 date (like 2019-08-12T17:00:00Z)",
                        );
                        out.extend(n);
                    }
                    TypedValues::Dates(out.into())
                }
                ValueType::Bool => {
                    let mut out = Vec::new();
                    for v in values {
                        let n = parse_bool(&v.value);
                        check(self, n.is_some(), v, "\"true\" or \"false\"");
                        out.extend(n);
                    }
                    TypedValues::Bools(out.into())
                }
                ValueType::Ip => {
                    let mut out = Vec::new();
                    for v in values {
                        let n = IpNet::parse(&v.value);
                        check(
                            self,
                            n.is_some(),
                            v,
                            "an IPv4 or IPv6 address or CIDR block",
                        );
                        out.extend(n);
                    }
                    TypedValues::Networks(out.into())
                }
                ValueType::String => {
                    TypedValues::Strings(values.iter().map(|v| v.value.as_str().into()).collect())
                }
            },
        };
        (!bad).then_some(typed)
    }
}

/// A condition key is `<prefix>:<name>` with printable characters and no spaces.
pub(crate) fn check_key(key: &str) -> Result<(), String> {
    match key.split_once(':') {
        Some((prefix, name))
            if !prefix.is_empty()
                && !name.is_empty()
                && prefix.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                && !key.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            Ok(())
        }
        _ => Err(format!(
            "condition key \"{key}\" is malformed; keys look like <service>:<name>, for example \"acs:SourceIp\""
        )),
    }
}

fn describe(node: &Node) -> String {
    match &node.value {
        Json::String(s) => format!("\"{s}\""),
        Json::Number(n) => n.clone(),
        _ => node.kind_name().to_owned(),
    }
}
