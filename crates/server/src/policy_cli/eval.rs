//! `rampart policy eval`.

use std::io::{self, Write};
use std::path::PathBuf;

use rampart_policy::{Action, Policy, PolicyId, PolicyKind, PolicySet};

use super::caller::parse_caller;
use super::context::{build, now_utc};
use super::scenario::{evaluate, Scenario, Trust};
use super::source::{kind_word, load};
use super::{CliError, EvalArgs, Status};

/// Policies of one layer, named by their file as given on the command line.
struct Loaded {
    kind: PolicyKind,
    policies: Vec<(String, Policy)>,
}

impl Loaded {
    fn compile(&self) -> PolicySet {
        let kind = kind_word(self.kind);
        PolicySet::new(
            self.policies
                .iter()
                .map(|(name, policy)| (PolicyId::new(name, kind, ""), policy)),
        )
    }
}

/// Loads every file before giving up, so one run shows every broken document.
struct Loader<'w> {
    err: &'w mut dyn Write,
    failed: bool,
}

impl Loader<'_> {
    fn load(&mut self, paths: &[PathBuf], kind: PolicyKind) -> io::Result<Loaded> {
        let mut policies = Vec::with_capacity(paths.len());
        for path in paths {
            match load(path, kind, self.err)? {
                Ok(policy) => policies.push((path.display().to_string(), policy)),
                // Already reported; keep going to report the rest.
                Err(_) => self.failed = true,
            }
        }
        Ok(Loaded { kind, policies })
    }
}

pub fn run(args: &EvalArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<Status, CliError> {
    let mut loader = Loader { err, failed: false };
    let identity = loader.load(&args.policies, PolicyKind::Identity)?;
    let session = loader.load(args.session.as_slice(), PolicyKind::Session)?;
    let control: Vec<Loaded> = args
        .control
        .iter()
        .map(|path| loader.load(std::slice::from_ref(path), PolicyKind::Control))
        .collect::<io::Result<_>>()?;
    let trust = loader.load(args.resource_policy.as_slice(), PolicyKind::Trust)?;
    if loader.failed {
        writeln!(
            loader.err,
            "rampart: error: nothing was evaluated; fix the policy documents above"
        )?;
        return Ok(Status::Error);
    }

    let resources: Vec<&str> = args.resources.iter().map(String::as_str).collect();
    let caller = match &args.caller {
        Some(text) => {
            let role = match resources.as_slice() {
                [role] => Some(*role),
                _ => None,
            };
            Some(parse_caller(text, role)?)
        }
        None => None,
    };
    let context = build(
        args.context.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        &now_utc(),
    );
    let action = Action::new(&args.action);
    let identity = identity.compile();
    let session = args.session.is_some().then(|| session.compile());
    let control: Vec<PolicySet> = control.iter().map(Loaded::compile).collect();
    let trust_set = trust.compile();
    let scenario = Scenario {
        control: &control,
        session: session.as_ref(),
        identity: &identity,
        trust: caller.as_ref().map(|caller| Trust {
            policy: &trust_set,
            caller,
        }),
        action: &action,
        resources: &resources,
        context: &context,
    };
    let evaluated = evaluate(&scenario)?;

    if args.json {
        let json = serde_json::to_string_pretty(&evaluated.to_json(&resources))
            .map_err(io::Error::other)?;
        writeln!(out, "{json}")?;
    } else {
        write!(out, "{}", evaluated.to_text(&resources, ""))?;
    }
    Ok(if evaluated.decision.is_allow() {
        Status::Success
    } else {
        Status::Failure
    })
}
