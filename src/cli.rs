//! The command line, defined once: `main` parses it, the man page and shell completions are
//! generated from it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXIT_CODES: &str = "\
Exit codes:
  0  success, or nothing to do
  1  a step failed at run time or was interrupted, or `apply --confirm` was not
     confirmed in time (every file was restored)
  2  bad input or usage, another edgeprep holds the lock, or the audit log
     cannot be written (nothing was written)
  3  a step failed and restoring the files failed too (see the backup set named)";

const CONFIRM_EXIT_CODES: &str = "\
Exit codes:
  0  kept (now, or already by an earlier confirm); with --revert-unconfirmed:
     nothing was left unconfirmed, or it was reverted
  1  too late: the wait ended and the changes were (or are being) reverted
  2  nothing waits for confirmation (a script may retry), or bad usage
  3  reverting failed (see the backup set named)";

const CHECK_EXIT_CODES: &str = "\
Exit codes:
  0  no check raised an error (warnings allowed without --warnings-as-errors)
  1  a check raised an error (with --network: a target is unreachable), or a
     warning with --warnings-as-errors
  2  bad usage (an unknown check id, an unreadable device file)";

const MANIFEST_EXIT_CODES: &str = "\
Exit codes:
  0  no rule raised an error (warnings and suggestions allowed)
  1  a rule raised an error (after --fix: one it could not fix)
  2  bad usage, an unreadable file, or invalid JSON (with its line and column)";

const INSPECT_EXIT_CODES: &str = "\
Exit codes:
  0  usable as an Edge CA (warnings allowed)
  1  not usable (expired, not a CA, wrong key, encrypted key, ...)
  2  a file could not be read or holds no certificate or key";

const STATUS_EXIT_CODES: &str = "\
Exit codes (for a systemd timer or Ansible):
  0  an Edge CA from files with more than --warn-days left, or one IoT Edge renews itself
  1  rotation due: fewer than --warn-days left, expired, or the certificate file is missing
  2  config.toml cannot be parsed
  3  the quickstart (self-generated) Edge CA is in use, or IoT Edge is not configured";

/// Take an Azure IoT Edge 1.4 device from "it works on my bench" to production-ready.
///
/// edgeprep reads the device, turns answers (an answers file) into a plan of file edits and
/// commands, shows it with secrets masked, and applies it with backups, atomic writes and
/// rollback when a command fails.
#[derive(Debug, Parser)]
#[command(name = "edgeprep", version, after_help = EXIT_CODES, after_long_help = EXIT_CODES)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(flatten)]
    pub wizard: WizardArgs,

    /// Without a command, edgeprep starts the wizard.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Read and write every device path under DIR (an offline image, a test tree). With a root
    /// other than /, commands are listed "to run on the device" instead of run.
    #[arg(long, global = true, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,

    /// Run iotedge, systemctl and docker even though --root is not /.
    #[arg(long, global = true)]
    pub run_commands: bool,

    /// Work on a temporary copy of the built-in demo device; commands are shown, not run.
    #[arg(long, global = true, conflicts_with = "root")]
    pub demo: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Walk through every setting interactively, review the plan, apply it (the default).
    Wizard(WizardArgs),
    /// Show what applying an answers file would change; writes nothing.
    Plan(PlanArgs),
    /// Apply an answers file: back up, write atomically, run commands, roll back on failure.
    ///
    /// An apply that a crash or power cut interrupted is finished first (its pending commands
    /// run; with --yes or after asking). Ctrl-C, SIGHUP or SIGTERM roll back after the
    /// running command finishes.
    Apply(ApplyArgs),
    /// Restore the files of a backup set and restart what reads them (default: finish an
    /// interrupted rollback, else the latest apply not rolled back yet).
    Rollback(RollbackArgs),
    /// Keep the changes an `apply --confirm SECONDS` waits on (from any shell, as root).
    ///
    /// Only renames the waiting record, so it works while the waiting edgeprep holds the
    /// lock; the waiting edgeprep then reports "kept".
    #[command(after_help = CONFIRM_EXIT_CODES, after_long_help = CONFIRM_EXIT_CODES)]
    Confirm(ConfirmArgs),
    /// Work with answers files.
    #[command(subcommand)]
    Answers(AnswersCommand),
    /// Inspect, generate, request and check Edge CA certificates.
    #[command(subcommand)]
    Cert(CertCommand),
    /// Check the device against the production checklist; changes nothing.
    #[command(after_help = CHECK_EXIT_CODES, after_long_help = CHECK_EXIT_CODES)]
    Check(CheckArgs),
    /// Lint deployment manifests against the production checklist.
    #[command(subcommand)]
    Manifest(ManifestCommand),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
    /// Apply an answers file left on the boot partition, once (edgeprep-firstboot.service).
    ///
    /// The entry point of edgeprep-firstboot.service. Looks for the answers file at
    /// /boot/firmware/edgeprep.toml, /boot/edgeprep.toml, then /etc/edgeprep/firstboot.toml
    /// (under --root; the first found is used). With FILE.failed beside it, does nothing.
    /// Otherwise copies the file, and the certificate, key and password files it names beside
    /// it, to /var/lib/edgeprep/firstboot (0700, files 0600), applies the copy like
    /// `apply --answers COPY --yes --json` (the JSON goes to stdout, the entry to the audit
    /// log), and on success removes the answers file and the key and password files from the
    /// boot partition. On failure the device is restored, the file stays and FILE.failed says
    /// why (secrets masked). Paths in the file are device paths, relative ones from its
    /// directory.
    #[command(after_help = crate::firstboot::EXIT_CODES, after_long_help = crate::firstboot::EXIT_CODES)]
    Firstboot,
}

#[derive(Debug, Clone, Default, Args)]
pub struct WizardArgs {
    /// Ask one question at a time (serial consoles, screen readers) instead of full screen.
    #[arg(long)]
    pub plain: bool,
    /// Pre-fill every answer from this file; Enter on every screen applies exactly what
    /// `apply --answers FILE` would.
    #[arg(long, value_name = "FILE")]
    pub answers: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The answers file (TOML). Optional with --demo, which has its own.
    #[arg(long, value_name = "FILE")]
    pub answers: Option<PathBuf>,
    /// Print the plan as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The answers file (TOML). Optional with --demo, which has its own.
    #[arg(long, value_name = "FILE")]
    pub answers: Option<PathBuf>,
    /// Do not ask for confirmation (required without a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Print the outcome as JSON: {"changed", "files", "commands", "backup", "warnings"}; with
    /// --confirm also "confirmation": "kept", "reverted" or "reverted-after-interrupt".
    #[arg(long)]
    pub json: bool,
    /// Keep the changes only if confirmed within SECONDS (10 to 3600): Enter at this terminal,
    /// or `edgeprep confirm` from another shell (say, after the SSH link dropped and came
    /// back). Otherwise, or on Ctrl-C, they are reverted (files restored, services restarted
    /// on them); exit 1. A hang-up does not end the wait. If edgeprep is killed or the power
    /// goes meanwhile, the next boot or edgeprep run reverts them.
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(10..=3600))]
    pub confirm: Option<u64>,
}

#[derive(Debug, Args)]
pub struct ConfirmArgs {
    /// Do not confirm: revert an `apply --confirm` whose waiting edgeprep is gone (killed, or
    /// an earlier boot), and finish a revert that was cut off. For the boot unit.
    #[arg(long)]
    pub revert_unconfirmed: bool,
    /// Print the outcome as JSON: {"confirmation", "backup"}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Print the results as JSON (schema "edgeprep-check/1", see the README).
    #[arg(long)]
    pub json: bool,
    /// Exit 1 on warnings too, not only on errors.
    #[arg(long)]
    pub warnings_as_errors: bool,
    /// Run only these checks (ids as shown in brackets in the report).
    #[arg(long, value_name = "ID", num_args = 1.., action = clap::ArgAction::Append)]
    pub only: Vec<String>,
    /// Do not run these checks.
    #[arg(long, value_name = "ID", num_args = 1.., action = clap::ArgAction::Append)]
    pub skip: Vec<String>,
    /// Also connect to what the device must reach: IoT Hub on the upstream protocol's port, DPS,
    /// the agent's registry and mcr.microsoft.com on 443, through the proxy the traffic takes.
    /// Naming a network-* check in --only implies it. Never for --demo; with --root, the
    /// image's targets are reached from this machine.
    #[arg(long)]
    pub network: bool,
    /// With --network: how long one target may take, name resolution included.
    #[arg(long, value_name = "SECONDS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub timeout: u64,
}

#[derive(Debug, Subcommand)]
pub enum ManifestCommand {
    /// Check a deployment manifest (modulesContent, with or without $schema-template) against
    /// the production checklist and the device's protocol, proxy and log settings.
    #[command(after_help = MANIFEST_EXIT_CODES, after_long_help = MANIFEST_EXIT_CODES)]
    Lint(ManifestLintArgs),
}

#[derive(Debug, Args)]
pub struct ManifestLintArgs {
    /// The deployment manifest (JSON), a path on this machine (not under --root).
    pub file: PathBuf,
    /// Print the results as JSON (schema "edgeprep-manifest-lint/1", see the README).
    #[arg(long)]
    pub json: bool,
    /// The device's upstream protocol (Amqp, AmqpWs, Mqtt, MqttWs); default: the device's
    /// config.toml under --root, when there is one.
    #[arg(long, value_name = "P")]
    pub device_protocol: Option<String>,
    /// Apply the safe fixes in place (UpstreamProtocol and https_proxy of edgeAgent and edgeHub
    /// set to the device's), after showing the diff; the original is kept as FILE.bak.
    #[arg(long)]
    pub fix: bool,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// List the backup sets (oldest first, with whether each completed, was interrupted or
    /// was rolled back, and damaged ones) instead of restoring one.
    #[arg(long)]
    pub list: bool,
    /// The backup set to restore (default: the latest apply not rolled back yet).
    pub id: Option<String>,
    /// Do not ask for confirmation (required without a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Print the list or the outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum AnswersCommand {
    /// Validate an answers file without a device.
    Check {
        /// The answers file (TOML).
        file: PathBuf,
    },
    /// Write the answers file that carries this device's fleet-wide settings (protocol, proxy,
    /// agent image and registry, image GC, logs, DNS), to prepare the next devices like this one.
    ///
    /// Never exported: the hostname, provisioning (the device's identity) and the Edge CA.
    /// Secrets (the registry password, a proxy password) are left out as "<FILL IN: ...>"
    /// placeholders that `answers check`, plan and apply refuse until filled in, unless
    /// --with-secrets is given. Values the device has that an answers file would refuse are
    /// named by file and key, and nothing is written.
    Export(ExportArgs),
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to FILE (atomically; refused when it exists, unless --force) instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Include the secrets. Needs -o FILE, which is then created readable by its owner only
    /// (0600); never written to stdout, where a terminal, a log or a pipe would keep them.
    #[arg(long, requires = "output")]
    pub with_secrets: bool,
    /// Replace FILE when it exists.
    #[arg(long, requires = "output")]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Show a certificate or chain (PEM or DER) and judge it as an IoT Edge Edge CA.
    #[command(after_help = INSPECT_EXIT_CODES)]
    Inspect(CertInspectArgs),
    /// Generate a root CA and an Edge CA signed by it.
    Generate(CertGenerateArgs),
    /// Create a private key and a certificate signing request for an Edge CA.
    Csr(CertCsrArgs),
    /// Report the device's current Edge CA and whether rotation is due.
    #[command(after_help = STATUS_EXIT_CODES)]
    Status(CertStatusArgs),
}

#[derive(Debug, Args)]
pub struct CertInspectArgs {
    /// Certificate or chain, PEM or DER.
    pub file: PathBuf,
    /// Private key that should match the first certificate.
    #[arg(long, value_name = "KEY")]
    pub key: Option<PathBuf>,
    /// Warn when the certificate expires within this many days.
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    pub warn_days: u32,
    /// Device hostname; an Edge CA whose CN equals it is an error.
    #[arg(long)]
    pub hostname: Option<String>,
    /// Device id; an Edge CA whose CN equals it is an error.
    #[arg(long)]
    pub device_id: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyType {
    /// ECDSA on NIST P-256 (default; fast, supported by IoT Edge's key service).
    EcP256,
    // Spelled like ec-p256 (and as the README and benches write them); the derived
    // spellings without the hyphen stay accepted.
    #[value(name = "rsa-2048", alias = "rsa2048")]
    #[serde(rename = "rsa-2048", alias = "rsa2048")]
    Rsa2048,
    #[value(name = "rsa-4096", alias = "rsa4096")]
    #[serde(rename = "rsa-4096", alias = "rsa4096")]
    Rsa4096,
}

#[derive(Debug, Args)]
pub struct CertGenerateArgs {
    /// Directory to write root-ca.pem, root-ca.key.pem, edge-ca.pem and edge-ca.key.pem into.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Common name of the Edge CA (must not equal the hostname or device id).
    #[arg(long, default_value = "edgeprep Edge CA")]
    pub common_name: String,
    /// Validity of the Edge CA in days (the root gets twice as long).
    #[arg(long, default_value_t = 365)]
    pub days: u32,
    #[arg(long, value_enum, default_value_t = KeyType::EcP256)]
    pub key_type: KeyType,
    /// Overwrite existing files.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct CertCsrArgs {
    /// Common name of the requested Edge CA.
    #[arg(long)]
    pub common_name: String,
    /// Directory to write edge-ca.key.pem and edge-ca.csr.pem into.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    #[arg(long, value_enum, default_value_t = KeyType::EcP256)]
    pub key_type: KeyType,
    /// Overwrite existing files.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct CertStatusArgs {
    /// Rotation is due when fewer than this many days are left.
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    pub warn_days: u32,
    /// Print the status as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// The clap command, for the man page and completions.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}
