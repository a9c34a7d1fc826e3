//! `tambah operator`: the operator's own accounts for the console.

use clap::Subcommand;
use serde_json::json;

use crate::database::{with_engine, DbArgs};

#[derive(Subcommand, Debug)]
pub enum OperatorCommand {
    /// Create an operator: prints a random password and the TOTP secret
    /// (both shown once) to sign in to /operator.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(db: &DbArgs, command: OperatorCommand) -> Result<(), String> {
    match command {
        OperatorCommand::Create { email, json } => {
            let created =
                with_engine(db, |e| async move { e.create_operator(&email).await.map_err(|e| e.to_string()) }).await?;
            if json {
                let out = json!({
                    "email": created.email,
                    "password": created.password,
                    "totp_secret": created.totp_secret,
                    "otpauth_uri": created.otpauth_uri,
                });
                println!("{out}");
            } else {
                println!(
                    "Operator:    {}\nPassword:    {}\nTOTP secret: {}\n             {}\n\
                     (shown once: add the secret to an authenticator app now; sign in at /operator)",
                    created.email, created.password, created.totp_secret, created.otpauth_uri
                );
            }
            Ok(())
        }
    }
}
