//! `tokens add`: a new API token with scopes and a tenant; prints the token once.

use std::path::PathBuf;

use super::data_dir_args::DataDirArgs;
use super::output::{self, CliError};
use crate::api::{Scope, TokenFile};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    data_dir: DataDirArgs,
    /// The tokens file [default: DIR/tokens.json].
    #[arg(long, value_name = "FILE")]
    tokens: Option<PathBuf>,
    /// A name for the token: shown in the audit log, never the token itself.
    #[arg(long)]
    name: String,
    /// read, recheck, hooks or admin (admin includes the others); repeat for several.
    #[arg(long = "scope", value_name = "SCOPE", required = true, value_parser = parse_scope)]
    scopes: Vec<Scope>,
    /// The tenant whose rows the token sees; `*` sees every tenant's.
    #[arg(long, default_value = "default")]
    tenant: String,
    /// Requests per minute before the API answers 429.
    #[arg(long, value_name = "N", default_value_t = crate::api::DEFAULT_REQUESTS_PER_MINUTE)]
    requests_per_minute: u32,
    #[arg(long)]
    json: bool,
}

fn parse_scope(text: &str) -> Result<Scope, String> {
    Scope::parse(text)
        .ok_or_else(|| format!("{text:?} is not a scope (read, recheck, hooks, admin)"))
}

pub fn run(args: Args) -> Result<(), CliError> {
    let path = args
        .tokens
        .clone()
        .unwrap_or_else(|| args.data_dir.dir().root().join("tokens.json"));
    let mut file = TokenFile::load(&path).map_err(CliError::usage)?;
    let mut scopes = args.scopes.clone();
    scopes.sort();
    scopes.dedup();
    let token = file
        .add(
            &args.name,
            scopes.clone(),
            &args.tenant,
            args.requests_per_minute,
        )
        .map_err(CliError::refused)?;
    file.write(&path).map_err(CliError::usage)?;
    if args.json {
        return output::json_pretty(&serde_json::json!({
            "name": args.name,
            "token": token,
            "scopes": scopes,
            "tenant": args.tenant,
            "file": path.display().to_string(),
        }));
    }
    output::text(&format!(
        "{token}\n(token {:?} for tenant {:?} added to {}; it is shown only now)",
        args.name,
        args.tenant,
        path.display()
    ))
}
