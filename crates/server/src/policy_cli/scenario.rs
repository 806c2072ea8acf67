//! One request against a set of compiled layers, and the two ways of showing its decision.
//! `eval` and `test` share this so a test case means exactly what the same `eval` would say.

use std::fmt::Write as _;

use rampart_policy::{
    authorize, authorize_assume_role, Action, AssumeFlow, Caller, Combine, Context, Decision,
    Identity, Layer, Layers, PolicySet, Request,
};
use serde::Serialize;

/// A role's trust policy and who is asking to assume the role.
#[derive(Clone, Copy, Debug)]
pub struct Trust<'a> {
    pub policy: &'a PolicySet,
    pub caller: &'a Caller,
}

#[derive(Clone, Copy, Debug)]
pub struct Scenario<'a> {
    /// Root first, account last.
    pub control: &'a [PolicySet],
    pub session: Option<&'a PolicySet>,
    /// Account-scope identity policies.
    pub identity: &'a PolicySet,
    pub trust: Option<Trust<'a>>,
    pub action: &'a Action,
    pub resources: &'a [&'a str],
    pub context: &'a Context,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScenarioError {
    #[error(
        "action \"{0}\" is not an API action; write it as service:ActionName (ecs:DescribeInstances)"
    )]
    Action(String),
    #[error(
        "a trust policy only decides role assumption: the action must be sts:AssumeRole, \
         sts:AssumeRoleWithSAML or sts:AssumeRoleWithOIDC, not \"{0}\""
    )]
    NotAssumeRole(String),
    #[error("a role assumption names exactly one resource, the role's ARN; {0} were given")]
    RoleCount(usize),
}

#[derive(Clone, Debug)]
pub struct Evaluated {
    pub decision: Decision,
    pub explanation: String,
}

pub fn evaluate(s: &Scenario<'_>) -> Result<Evaluated, ScenarioError> {
    let action = s.action.as_str();
    match action.split_once(':') {
        Some((service, name)) if !service.is_empty() && !name.is_empty() => {}
        _ => return Err(ScenarioError::Action(action.to_owned())),
    }
    let layers = Layers {
        control: s.control,
        session: s.session,
        identity: Identity::Policies {
            account: s.identity,
            resource_group: None,
        },
        resource_policy: None,
        combine: Combine::Either,
    };
    let Some(trust) = s.trust else {
        let request = Request::new(s.action, s.resources, s.context);
        let decision = authorize(&request, &layers);
        let explanation = decision.explain(&request);
        return Ok(Evaluated {
            decision,
            explanation,
        });
    };
    let flow = match s.action.lower() {
        "sts:assumerole" => AssumeFlow::AssumeRole,
        "sts:assumerolewithsaml" => AssumeFlow::Saml,
        "sts:assumerolewithoidc" => AssumeFlow::Oidc,
        _ => return Err(ScenarioError::NotAssumeRole(action.to_owned())),
    };
    let [role] = s.resources else {
        return Err(ScenarioError::RoleCount(s.resources.len()));
    };
    let decision = authorize_assume_role(
        flow,
        trust.caller,
        Some(&layers),
        trust.policy,
        role,
        s.context,
    );
    // The explanation names the action as the user wrote it.
    let explanation = decision.explain_parts(s.action.as_str(), s.resources);
    Ok(Evaluated {
        decision,
        explanation,
    })
}

/// A layer's stable name in JSON and test files, with its level for control policies.
pub fn layer_name(layer: Layer) -> (&'static str, Option<u8>) {
    match layer {
        Layer::ControlPolicy { level } => (layer.name(), Some(level)),
        _ => (layer.name(), None),
    }
}

/// A layer in words, for text output; worded as `Decision::explain` words it.
pub fn layer_label(layer: Layer) -> String {
    layer.to_string()
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DecisionJson<'a> {
    pub decision: &'static str,
    pub decided_by: Option<LayerJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denied_resource: Option<&'a str>,
    pub matched: Vec<MatchJson<'a>>,
    pub explanation: &'a str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LayerJson {
    pub layer: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<u8>,
    pub policy_type: &'static str,
}

#[derive(Debug, Serialize)]
pub struct MatchJson<'a> {
    pub policy: &'a str,
    pub statement: u32,
    pub sid: Option<&'a str>,
    pub effect: &'static str,
    pub layer: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<u8>,
    pub resource: &'a str,
}

fn resource_at<'a>(resources: &[&'a str], index: u16) -> &'a str {
    resources.get(usize::from(index)).copied().unwrap_or("*")
}

impl Evaluated {
    pub fn to_json<'a>(&'a self, resources: &[&'a str]) -> DecisionJson<'a> {
        let d = &self.decision;
        DecisionJson {
            decision: d.outcome.as_str(),
            decided_by: d.decided_by.map(|layer| {
                let (name, level) = layer_name(layer);
                LayerJson {
                    layer: name,
                    level,
                    policy_type: layer.policy_type(),
                }
            }),
            denied_resource: d.denied_resource.map(|i| resource_at(resources, i)),
            matched: d
                .matched
                .iter()
                .map(|m| {
                    let (layer, level) = layer_name(m.layer);
                    MatchJson {
                        policy: &m.policy.name,
                        statement: m.statement,
                        sid: m.sid.as_deref(),
                        effect: m.effect.as_str(),
                        layer,
                        level,
                        resource: resource_at(resources, m.resource),
                    }
                })
                .collect(),
            explanation: &self.explanation,
        }
    }

    /// Multi-line text; every line starts with `indent`.
    pub fn to_text(&self, resources: &[&str], indent: &str) -> String {
        let d = &self.decision;
        let mut out = String::new();
        let _ = writeln!(out, "{indent}decision:    {}", d.outcome.as_str());
        if let Some(layer) = d.decided_by {
            let _ = writeln!(
                out,
                "{indent}decided by:  {} ({})",
                layer_label(layer),
                layer.policy_type()
            );
        }
        if let Some(i) = d.denied_resource {
            let _ = writeln!(out, "{indent}denied:      {}", resource_at(resources, i));
        }
        if d.matched.is_empty() {
            let _ = writeln!(out, "{indent}matched:     no statement");
        } else {
            let _ = writeln!(out, "{indent}matched:");
        }
        for m in &d.matched {
            let sid = m
                .sid
                .as_deref()
                .map(|s| format!(" (Sid \"{s}\")"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "{indent}  {:<5} {} statement {}{sid} [{}] on {}",
                m.effect.as_str(),
                m.policy.name,
                m.statement,
                layer_label(m.layer),
                resource_at(resources, m.resource),
            );
        }
        let _ = writeln!(out, "{indent}explanation: {}", self.explanation);
        out
    }
}
