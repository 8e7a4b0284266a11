//! The command line, as clap derive structs. Nothing here does work: `main` turns these into
//! validated values and calls one function per subcommand.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// accord: a ledger of signed critical-minerals policy commitments that auditors verify
/// offline.
///
/// Exit codes: 0 success; 1 verification failed or something signed refused; 2 usage or
/// input error.
#[derive(Parser, Debug)]
#[command(name = "accord", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// The ledger directory.
    #[arg(long, global = true, env = "ACCORD_LEDGER", value_name = "DIR")]
    pub ledger: Option<PathBuf>,
    /// Print one JSON document (or JSON Lines for lists) instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// If the ledger is in use by another process, wait up to this many seconds.
    #[arg(long, global = true, value_name = "SECONDS")]
    pub wait: Option<u64>,
    /// Talk to an `accord serve` at this URL instead of a local ledger directory.
    #[arg(long, global = true, env = "ACCORD_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// Trust this PEM CA certificate (besides the system's roots) for an https --server.
    #[arg(long, global = true, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the G7+ demo: keys, charter, commitments, co-signing, amendments, progress, a
    /// withdrawal, a key rotation, a cosigned checkpoint; then verify and export.
    #[command(after_help = "Examples:\n  accord demo\n  accord --json demo --dir /tmp/g7")]
    Demo(DemoArgs),
    /// Generate a member's Ed25519 key pair.
    #[command(
        after_help = "Examples:\n  accord keygen --id JP-MOF --country JP --name \"Ministry of Finance, Japan\" --out jp.key\n  accord keygen --log --id g7-critical-minerals.example/2026 --out log.key"
    )]
    Keygen(KeygenArgs),
    /// Draft or inspect a charter.
    #[command(subcommand)]
    #[command(
        after_help = "Examples:\n  accord charter new --origin example.org/minerals --name \"Minerals pilot\" --log-key log.key.member.json --member jp.key.member.json --member us.key.member.json --threshold 2 --out charter.json\n  accord charter hash charter.json"
    )]
    Charter(CharterCommand),
    /// Create a ledger from a signed charter.
    #[command(
        after_help = "Examples:\n  accord --ledger g7 init --charter charter.json --log-key log.key"
    )]
    Init(InitArgs),
    /// Write an unsigned draft of an entry (see `accord draft --help` for kinds).
    #[command(subcommand)]
    #[command(
        after_help = "Examples:\n  accord --ledger g7 draft price-floor --id us-ndpr-floor --party US-DOD --title \"NdPr floor\" --commodity rare-earths/ndpr-oxide --stage separation --from 2025-10-01 --instrument \"Offtake agreement\" --source https://example.org/a --price 110.00 --currency USD --unit kg --basis \"NdPr benchmark\" --mechanism contract_for_difference --out floor.json\n  accord --ledger g7 draft amend --id efa/amend-1 --target au-efa-iluka --reason \"AUD 550M more\" --set measure.amount.amount=1800000000 --out amend.json"
    )]
    Draft(Box<DraftCommand>),
    /// Add this member's signature to a draft or signed envelope (co-signing is the same).
    #[command(after_help = "Examples:\n  accord --ledger g7 sign floor.json --key us-dod.key")]
    Sign(SignArgs),
    /// Show what a draft or envelope says and who has signed it.
    #[command(
        after_help = "Examples:\n  accord --ledger g7 inspect floor.json\n  accord --json inspect floor.json"
    )]
    Inspect(InspectArgs),
    /// Append a signed envelope to the ledger.
    #[command(
        after_help = "Examples:\n  accord --ledger g7 submit floor.json\n  accord --server https://ledger.example.org submit floor.json"
    )]
    Submit(SubmitArgs),
    /// Append many signed envelopes from a JSON Lines file.
    #[command(after_help = "Examples:\n  accord --ledger restored import backup.jsonl")]
    Import(ImportArgs),
    /// Verify the ledger up to the latest checkpoint, then cosign it.
    #[command(
        after_help = "Examples:\n  accord --ledger g7 cosign --key jp.key\n  accord --server https://ledger.example.org cosign --key jp.key"
    )]
    Cosign(CosignArgs),
    /// List entries.
    #[command(after_help = "Examples:\n  accord --ledger g7 list --from 10 --limit 5")]
    List(ListArgs),
    /// Show one entry by index or id.
    #[command(
        disable_version_flag = true,
        after_help = "Examples:\n  accord --ledger g7 show au-efa-iluka-2026\n  accord --ledger g7 show au-efa-iluka-2026 --version 1\n  accord --ledger g7 --json show 24"
    )]
    Show(ShowArgs),
    /// Show a commitment's full history.
    #[command(after_help = "Examples:\n  accord --ledger g7 history au-efa-iluka-eneabba-2022")]
    History(HistoryArgs),
    /// Current state of commitments, filtered.
    #[command(
        after_help = "Examples:\n  accord --ledger g7 status --country AU --status amended\n  accord --ledger g7 status --kind price-floor --limit 5\n  accord --ledger g7 --json status | jq -r .headline"
    )]
    Status(StatusArgs),
    /// Totals per country and per commodity.
    #[command(
        after_help = "Examples:\n  accord --ledger g7 summary\n  accord --ledger g7 --json summary --as-of 2026-06-30 | jq .pledged"
    )]
    Summary(SummaryArgs),
    /// List the members and their keys.
    #[command(
        after_help = "Examples:\n  accord --ledger g7 members\n  accord --server https://ledger.example.org --json members"
    )]
    Members,
    /// Issue a checkpoint (with the log key) or print the latest one.
    #[command(
        after_help = "Examples:\n  accord --ledger g7 checkpoint --log-key log.key\n  accord --ledger g7 checkpoint"
    )]
    Checkpoint(CheckpointArgs),
    /// Print the log's verifier key.
    #[command(after_help = "Example:\n  accord --ledger g7 log-key")]
    LogKey,
    /// Inclusion proof of an entry.
    #[command(
        after_help = "Examples:\n  accord --ledger g7 prove 24\n  accord --ledger g7 prove au-efa-iluka-eneabba-2022 --format tlog-proof"
    )]
    Prove(ProveArgs),
    /// Consistency proof between two tree sizes.
    #[command(after_help = "Examples:\n  accord --ledger g7 consistency --from 10 --to 26")]
    Consistency(ConsistencyArgs),
    /// Audit the whole ledger.
    #[command(after_help = "Examples:\n  accord --ledger g7 verify --charter-hash e1a7d0c7...")]
    Verify(VerifyArgs),
    /// Export entries as JSON Lines, CSV or an audit bundle.
    #[command(
        after_help = "Examples:\n  accord --ledger g7 export --format csv --out commitments.csv\n  accord --ledger g7 export --format csv --versions --out versions.csv\n  accord --ledger g7 export --format bundle --commitment au-efa-iluka-eneabba-2022 --out bundle.json"
    )]
    Export(ExportArgs),
    /// Verify an audit bundle offline, without a ledger.
    #[command(
        after_help = "Examples:\n  accord verify-bundle bundle.json --charter-hash e1a7d0c7..."
    )]
    VerifyBundle(VerifyBundleArgs),
    /// Run the ledger as a service: C2SP tlog-tiles, a JSON API and the pages over HTTP(S).
    #[command(
        after_help = "Examples:\n  accord --ledger g7 serve --listen 127.0.0.1:8080 --log-key log.key"
    )]
    Serve(ServeArgs),
    /// Write the pages (overview, commitments, each commitment, members, trust) as one
    /// self-contained HTML file that works offline.
    #[command(
        after_help = "Examples:\n  accord --ledger g7 report --out report.html\n  accord --server https://ledger.example.org report --out report.html --as-of 2026-06-30"
    )]
    Report(ReportArgs),
    /// Create or update a verified replica of a log from its C2SP tlog-tiles endpoints.
    #[command(
        after_help = "Example:\n  accord --ledger replica mirror --from https://log.example.org --charter-hash 3f2a...\n  accord --ledger replica mirror --from http://127.0.0.1:8080/bucket/g7 --follow 60"
    )]
    Mirror(MirrorArgs),
    /// Check a mirror's fork evidence file offline: does it prove the log signed two histories?
    #[command(
        after_help = "Example:\n  accord verify-evidence replica/evidence/fork-12-12-20260102030405.json\n\nExit codes: 0 the file proves a fork; 1 it does not; 2 the file cannot be read."
    )]
    VerifyEvidence(VerifyEvidenceArgs),
    /// Copy the log's C2SP tlog-tiles (checkpoint, tiles, entry bundles) to object storage.
    #[command(after_help = PUBLISH_EXAMPLES)]
    Publish(PublishArgs),
    /// A C2SP tlog-witness: cosign only checkpoints consistent with what was cosigned before.
    #[command(subcommand)]
    Witness(WitnessCommand),
    /// Monitor one member: entries naming it, signed by its keys, governance touching it,
    /// and signatures by its keys that none of its journals records (an alert, exit 1).
    #[command(after_help = WATCH_EXAMPLES)]
    Watch(WatchArgs),
}

const PUBLISH_EXAMPLES: &str = "Examples:
  AWS_REGION=eu-central-1 accord --ledger g7 publish --to s3://g7-ledger/log
  AWS_ENDPOINT_URL=http://127.0.0.1:9000 AWS_ALLOW_HTTP=true accord --ledger g7 publish --to s3://test/log
  accord --ledger g7 publish --to file:///srv/www/g7-log";

const WITNESS_EXAMPLES: &str = "Example:
  accord witness serve --key keys/JP-MOF.key --state witness-state \\
      --listen 0.0.0.0:7380 \\
      --log 'g7-critical-minerals.example/2026=g7-critical-minerals.example/2026+1a2b3c4d+AU...'";

const WATCH_EXAMPLES: &str = "Examples:
  accord watch --ledger mirror --member JP-MOF --journal keys/JP-MOF.key.journal
  accord watch --from https://ledger.example --member JP-MOF \\
      --journal keys/JP-MOF.key.journal --journal keys/JP-MOF-2025.key.journal --json";

/// `accord witness`.
#[derive(Subcommand, Debug)]
pub enum WitnessCommand {
    /// Serve C2SP tlog-witness `POST /add-checkpoint` (and `GET /<origin hash>/checkpoint`)
    /// until SIGTERM or SIGINT; prints `listening on http://ADDR:PORT` first on stderr.
    #[command(after_help = WITNESS_EXAMPLES)]
    Serve(WitnessServeArgs),
}

/// `accord witness serve`.
#[derive(Args, Debug)]
pub struct WitnessServeArgs {
    /// The member key file the witness cosigns with (its name is the cosigner name).
    #[arg(long, value_name = "KEYFILE")]
    pub key: PathBuf,
    /// The state directory: the latest cosigned checkpoint of each log, written durably
    /// before every answer.
    #[arg(long, value_name = "DIR")]
    pub state: PathBuf,
    /// Address and port to listen on (port 0: any free port).
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: std::net::SocketAddr,
    /// A log to witness: its origin and its C2SP verifier key (`accord log-key` prints it).
    #[arg(long = "log", value_name = "ORIGIN=VKEY", required = true)]
    pub logs: Vec<String>,
    /// Passphrase source for the key.
    #[command(flatten)]
    pub pass: PassArgs,
}

/// `accord watch`.
#[derive(Args, Debug)]
pub struct WatchArgs {
    /// Read the log from an `accord serve` (or any C2SP tlog-tiles server) at this URL;
    /// without it, the local ledger of --ledger (e.g. a mirror) is read.
    #[arg(long, value_name = "URL")]
    pub from: Option<String>,
    /// The member to watch.
    #[arg(long, value_name = "ID")]
    pub member: String,
    /// A signing journal of the member's keys (`accord sign` writes KEYFILE.journal).
    #[arg(long = "journal", value_name = "FILE")]
    pub journals: Vec<PathBuf>,
    /// Where the position of the last run is kept (default: beside the first journal,
    /// `<journal>.watch`).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// The longest a checkpoint may be older than the newest entry it should cover, in
    /// seconds, before it is reported (the server's --checkpoint-every plus slack).
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    pub max_checkpoint_age: u64,
}

/// `accord demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Where to put the demo (ledger, keys, exports); default ./accord-demo. Overrides
    /// --ledger.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Replace an existing demo directory.
    #[arg(long)]
    pub force: bool,
}

/// Roles.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum RoleArg {
    /// A ministry.
    Ministry,
    /// An agency or public finance institution.
    Agency,
    /// An audit office.
    Auditor,
    /// The secretariat.
    Secretariat,
}

/// How to get a passphrase.
#[derive(Args, Debug, Clone, Default)]
pub struct PassArgs {
    /// Read the key's passphrase from this file (else ACCORD_PASSPHRASE, else a prompt).
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

/// `accord keygen`.
#[derive(Args, Debug)]
pub struct KeygenArgs {
    /// Member id, e.g. JP-MOF (for the log key: the ledger origin).
    #[arg(long)]
    pub id: String,
    /// ISO 3166-1 alpha-2 country code, or EU.
    #[arg(long)]
    pub country: Option<String>,
    /// Institution name.
    #[arg(long)]
    pub name: Option<String>,
    /// Role.
    #[arg(long, value_enum, default_value = "ministry")]
    pub role: RoleArg,
    /// Private key file to write (mode 0600); the public member record goes to
    /// FILE.member.json.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Make a log key (named by the ledger origin) instead of a member key.
    #[arg(long)]
    pub log: bool,
    /// Store the private key unencrypted.
    #[arg(long)]
    pub unencrypted: bool,
    /// Passphrase source.
    #[command(flatten)]
    pub pass: PassArgs,
}

/// `accord charter ...`.
#[derive(Subcommand, Debug)]
pub enum CharterCommand {
    /// Draft a charter for the founders to sign.
    New(CharterNewArgs),
    /// Print the charter hash (SHA-256 of its payload): the auditors' trust anchor.
    Hash(CharterHashArgs),
}

/// `accord charter new`.
#[derive(Args, Debug)]
pub struct CharterNewArgs {
    /// Ledger origin, e.g. g7-critical-minerals.example/2026.
    #[arg(long)]
    pub origin: String,
    /// The group's name.
    #[arg(long)]
    pub name: String,
    /// The log's verifier key, or its key file's .member.json.
    #[arg(long, value_name = "VKEY|FILE")]
    pub log_key: String,
    /// A founding member's .member.json (repeat).
    #[arg(long = "member", value_name = "FILE", required = true)]
    pub members: Vec<PathBuf>,
    /// Distinct members that must sign membership and key changes.
    #[arg(long)]
    pub threshold: u32,
    /// Signatures a joint commitment needs: "all" parties, or a number.
    #[arg(long, default_value = "all")]
    pub joint: String,
    /// A founding member whose cosignatures (as a witness or cosigner) count towards the
    /// witness policy (repeat; with --witness-threshold).
    #[arg(long = "witness", value_name = "MEMBER")]
    pub witnesses: Vec<String>,
    /// Distinct cosignatures by the --witness members a checkpoint needs before readers
    /// should trust it (the charter's `policy.witness_policy`).
    #[arg(long, value_name = "N", requires = "witnesses")]
    pub witness_threshold: Option<u32>,
    /// Entry id.
    #[arg(long, default_value = "charter")]
    pub id: String,
    /// Output file.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// `accord charter hash`.
#[derive(Args, Debug)]
pub struct CharterHashArgs {
    /// The charter draft or signed envelope.
    pub file: PathBuf,
}

/// `accord init`.
#[derive(Args, Debug)]
pub struct InitArgs {
    /// The charter, signed by every founder.
    #[arg(long, value_name = "FILE")]
    pub charter: PathBuf,
    /// The log's private key file.
    #[arg(long, value_name = "FILE")]
    pub log_key: PathBuf,
    /// Passphrase source.
    #[command(flatten)]
    pub pass: PassArgs,
}

/// Fields every draft has.
#[derive(Args, Debug, Clone)]
pub struct Common {
    /// Entry id (unique in the ledger).
    #[arg(long)]
    pub id: String,
    /// When the signers sign (RFC 3339 UTC); default now.
    #[arg(long)]
    pub signed_at: Option<String>,
    /// Ledger origin; default: the --ledger's.
    #[arg(long)]
    pub origin: Option<String>,
    /// Output file.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Replace the output file if it exists.
    #[arg(long)]
    pub force: bool,
}

/// Fields every commitment has.
#[derive(Args, Debug, Clone)]
pub struct TermsArgs {
    /// A party (member id); repeat for a joint commitment.
    #[arg(long = "party", required = true)]
    pub parties: Vec<String>,
    /// One-line title.
    #[arg(long)]
    pub title: String,
    /// Commodity, e.g. rare-earths/ndpr-oxide.
    #[arg(long)]
    pub commodity: String,
    /// Supply-chain stage.
    #[arg(long, default_value = "all_stages")]
    pub stage: String,
    /// First day in force (YYYY-MM-DD).
    #[arg(long)]
    pub from: String,
    /// Last day in force.
    #[arg(long)]
    pub until: Option<String>,
    /// Legal instrument or reference.
    #[arg(long)]
    pub instrument: String,
    /// Public source URL, optionally URL#sha256=HEX (repeat).
    #[arg(long = "source", required = true)]
    pub sources: Vec<String>,
}

/// `accord draft ...`.
#[derive(Subcommand, Debug)]
pub enum DraftCommand {
    /// A price floor.
    #[command(alias = "price_floor")]
    PriceFloor {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        terms: TermsArgs,
        /// Floor price (decimal).
        #[arg(long)]
        price: String,
        /// ISO 4217 currency.
        #[arg(long)]
        currency: String,
        /// Per unit (kg, t).
        #[arg(long)]
        unit: String,
        /// Benchmark or index.
        #[arg(long)]
        basis: String,
        /// contract_for_difference, government_offtake, reserve_price, minimum_import_price,
        /// other.
        #[arg(long)]
        mechanism: String,
    },
    /// A financing pledge.
    #[command(alias = "financing_pledge")]
    FinancingPledge {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        terms: TermsArgs,
        /// Lending or investing institution.
        #[arg(long)]
        institution: String,
        /// Amount (decimal).
        #[arg(long)]
        amount: String,
        /// ISO 4217 currency.
        #[arg(long)]
        currency: String,
        /// loan, equity, guarantee, grant, insurance, fund.
        #[arg(long)]
        instrument_kind: String,
        /// For what or whom.
        #[arg(long)]
        target: String,
    },
    /// An offtake agreement.
    Offtake {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        terms: TermsArgs,
        /// Buyer.
        #[arg(long)]
        buyer: String,
        /// Seller.
        #[arg(long)]
        seller: String,
        /// Quantity (decimal).
        #[arg(long)]
        quantity: String,
        /// Unit, e.g. t-per-year.
        #[arg(long)]
        unit: String,
    },
    /// A stockpile target.
    Stockpile {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        terms: TermsArgs,
        /// Target days of supply.
        #[arg(long)]
        days: Option<String>,
        /// Baseline days of supply.
        #[arg(long)]
        baseline_days: Option<String>,
        /// Target quantity (with --unit).
        #[arg(long)]
        quantity: Option<String>,
        /// Unit of --quantity.
        #[arg(long)]
        unit: Option<String>,
    },
    /// A tariff or trade measure.
    #[command(alias = "tariff_measure")]
    TariffMeasure {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        terms: TermsArgs,
        /// tariff, quota, export_control, anti_dumping, quarantine, other.
        #[arg(long)]
        tool: String,
        /// Rate in percent.
        #[arg(long)]
        rate: Option<String>,
        /// Goods covered.
        #[arg(long)]
        scope: String,
    },
    /// A tax or financial incentive.
    #[command(alias = "tax_incentive")]
    TaxIncentive {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        terms: TermsArgs,
        /// credit, deduction, exemption, accelerated_depreciation, production_incentive,
        /// other.
        #[arg(long)]
        tool: String,
        /// Rate in percent.
        #[arg(long)]
        rate: Option<String>,
        /// Budgeted value (decimal, with --currency).
        #[arg(long)]
        value: Option<String>,
        /// Currency of --value.
        #[arg(long)]
        currency: Option<String>,
        /// Who qualifies.
        #[arg(long)]
        eligibility: String,
    },
    /// A recycling target.
    #[command(alias = "recycling_target")]
    RecyclingTarget {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        terms: TermsArgs,
        /// Share in percent.
        #[arg(long)]
        percent: String,
        /// What the share is of.
        #[arg(long)]
        basis: String,
        /// By when (YYYY-MM-DD).
        #[arg(long)]
        by: String,
    },
    /// A standards-based market.
    #[command(alias = "standards_market")]
    StandardsMarket {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        terms: TermsArgs,
        /// A standard required (repeat).
        #[arg(long = "standard", required = true)]
        standards: Vec<String>,
        /// Market or procurement covered.
        #[arg(long)]
        scope: String,
    },
    /// A multilateral or bilateral framework.
    Framework {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        terms: TermsArgs,
        /// Partner country (repeat).
        #[arg(long = "partner", required = true)]
        partners: Vec<String>,
        /// A pledge as AMOUNT:CURRENCY (repeat).
        #[arg(long = "pledge")]
        pledges: Vec<String>,
        /// A tool slug (repeat).
        #[arg(long = "tool", required = true)]
        tools: Vec<String>,
        /// Pipeline as AMOUNT:CURRENCY.
        #[arg(long)]
        pipeline: Option<String>,
    },
    /// An amendment: the commitment's current terms (from --ledger) with changes.
    Amend {
        #[command(flatten)]
        common: Common,
        /// The commitment.
        #[arg(long)]
        target: String,
        /// Why.
        #[arg(long)]
        reason: String,
        /// A change as PATH=VALUE inside the terms, e.g. measure.amount.amount=1800000000
        /// (VALUE is a JSON list, object, string or null if it parses as one, else a
        /// string). Repeat.
        #[arg(long = "set", value_name = "PATH=VALUE")]
        sets: Vec<String>,
        /// Take the full new terms from this JSON file instead of the ledger.
        #[arg(long, value_name = "FILE")]
        terms_file: Option<PathBuf>,
    },
    /// A progress report.
    Progress {
        #[command(flatten)]
        common: Common,
        /// The commitment.
        #[arg(long)]
        target: String,
        /// The date the figure refers to.
        #[arg(long)]
        as_of: String,
        /// disbursed, committed, delivered, stockpiled, capacity, other.
        #[arg(long)]
        metric: String,
        /// The figure (decimal).
        #[arg(long)]
        amount: String,
        /// ISO currency or unit.
        #[arg(long)]
        unit: String,
        /// Context.
        #[arg(long)]
        note: Option<String>,
    },
    /// A withdrawal.
    Withdraw {
        #[command(flatten)]
        common: Common,
        /// The commitment.
        #[arg(long)]
        target: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// Admission of a member.
    #[command(alias = "admit_member")]
    AdmitMember {
        #[command(flatten)]
        common: Common,
        /// The new member's .member.json (from `accord keygen`).
        #[arg(long, value_name = "FILE")]
        member: PathBuf,
    },
    /// Removal of a member.
    #[command(alias = "remove_member")]
    RemoveMember {
        #[command(flatten)]
        common: Common,
        /// Member id.
        #[arg(long)]
        member: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// Rotation of a member's key.
    #[command(alias = "rotate_key")]
    RotateKey {
        #[command(flatten)]
        common: Common,
        /// Member id.
        #[arg(long)]
        member: String,
        /// The new verifier key, or the new key's .member.json.
        #[arg(long, value_name = "VKEY|FILE")]
        new_key: String,
    },
    /// Revocation of a member's current key.
    #[command(alias = "revoke_key")]
    RevokeKey {
        #[command(flatten)]
        common: Common,
        /// Member id.
        #[arg(long)]
        member: String,
        /// The key revoked (verifier key or .member.json); default: the member's current.
        #[arg(long, value_name = "VKEY|FILE")]
        key: Option<String>,
        /// Why.
        #[arg(long)]
        reason: String,
    },
}

/// `accord sign`.
#[derive(Args, Debug)]
pub struct SignArgs {
    /// The draft (payload JSON) or envelope to sign.
    pub file: PathBuf,
    /// This member's private key file.
    #[arg(long, value_name = "KEYFILE")]
    pub key: PathBuf,
    /// Write here instead of replacing FILE.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Record the signature in this journal instead of KEYFILE.journal (`accord watch`
    /// compares the ledger against it).
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// Passphrase source.
    #[command(flatten)]
    pub pass: PassArgs,
}

/// `accord inspect`.
#[derive(Args, Debug)]
pub struct InspectArgs {
    /// The draft or envelope.
    pub file: PathBuf,
}

/// `accord submit`.
#[derive(Args, Debug)]
pub struct SubmitArgs {
    /// The signed envelope.
    pub file: PathBuf,
}

/// `accord import`.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// JSON Lines: one envelope per line, or lines of `accord export --format jsonl`.
    pub file: PathBuf,
}

/// `accord cosign`.
#[derive(Args, Debug)]
pub struct CosignArgs {
    /// This member's private key file.
    #[arg(long, value_name = "KEYFILE")]
    pub key: PathBuf,
    /// Verify the whole ledger from the charter again instead of only what is new since
    /// the state kept in KEYFILE.verified.
    #[arg(long)]
    pub full: bool,
    /// Passphrase source.
    #[command(flatten)]
    pub pass: PassArgs,
}

/// `accord list`.
#[derive(Args, Debug)]
pub struct ListArgs {
    /// First index.
    #[arg(long, default_value_t = 0)]
    pub from: u64,
    /// At most this many entries.
    #[arg(long)]
    pub limit: Option<u64>,
}

/// `accord show`.
#[derive(Args, Debug)]
pub struct ShowArgs {
    /// An index or an entry id.
    pub entry: String,
    /// For a commitment: show this version of its terms (default: the current one).
    #[arg(long, value_name = "N")]
    pub version: Option<u32>,
}

/// `accord history`.
#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// The commitment id.
    pub commitment: String,
}

/// Filters on commitments.
#[derive(Args, Debug, Clone, Default)]
pub struct FilterArgs {
    /// Party member id.
    #[arg(long)]
    pub member: Option<String>,
    /// A party's country.
    #[arg(long)]
    pub country: Option<String>,
    /// Measure kind (price_floor, financing_pledge, ...).
    #[arg(long)]
    pub kind: Option<String>,
    /// Commodity, or a prefix ending in '/'.
    #[arg(long)]
    pub commodity: Option<String>,
    /// active, amended, expired, pending, withdrawn.
    #[arg(long)]
    pub status: Option<String>,
    /// In force on some day on or after (YYYY-MM-DD).
    #[arg(long)]
    pub since: Option<String>,
    /// In force on some day on or before (YYYY-MM-DD).
    #[arg(long)]
    pub until: Option<String>,
    /// Decide statuses on this day (default today).
    #[arg(long)]
    pub as_of: Option<String>,
}

/// `accord status`.
#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Filters.
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Show at most this many commitments.
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
}

/// `accord report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The HTML file to write (replaced whole).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Decide statuses on this day (default today).
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
}

/// `accord summary`.
#[derive(Args, Debug)]
pub struct SummaryArgs {
    /// Decide statuses on this day (default today).
    #[arg(long)]
    pub as_of: Option<String>,
}

/// `accord checkpoint`.
#[derive(Args, Debug)]
pub struct CheckpointArgs {
    /// Issue a new checkpoint signed with this log key file.
    #[arg(long, value_name = "FILE")]
    pub log_key: Option<PathBuf>,
    /// Passphrase source.
    #[command(flatten)]
    pub pass: PassArgs,
}

/// Proof formats.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum ProofFormat {
    /// A table or, with --json, JSON.
    Text,
    /// C2SP tlog-proof text (with the latest checkpoint).
    TlogProof,
}

/// `accord prove`.
#[derive(Args, Debug)]
pub struct ProveArgs {
    /// The entry: its index or its id.
    pub entry: String,
    /// Tree size (default: the current size).
    #[arg(long)]
    pub size: Option<u64>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: ProofFormat,
}

/// `accord consistency`.
#[derive(Args, Debug)]
pub struct ConsistencyArgs {
    /// Old tree size.
    #[arg(long)]
    pub from: u64,
    /// New tree size (default: the current size).
    #[arg(long)]
    pub to: Option<u64>,
}

/// `accord verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The charter hash you trust (hex SHA-256 of the charter payload).
    #[arg(long, value_name = "HEX")]
    pub charter_hash: Option<String>,
}

/// Export formats.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum ExportFormat {
    /// JSON Lines, one object per entry.
    Jsonl,
    /// CSV, one row per commitment version.
    Csv,
    /// A self-verifying audit bundle.
    Bundle,
}

/// `accord export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Format.
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// Only this commitment's history.
    #[arg(long)]
    pub commitment: Option<String>,
    /// Filters (select commitments; their full histories are exported).
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Output file ("-" for standard output).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// CSV: one row per version of each commitment (default: one row per commitment, its
    /// current terms).
    #[arg(long)]
    pub versions: bool,
}

/// `accord verify-bundle`.
#[derive(Args, Debug)]
pub struct VerifyBundleArgs {
    /// The bundle.
    pub file: PathBuf,
    /// The log verifier key you trust.
    #[arg(long, value_name = "VKEY")]
    pub log_key: Option<String>,
    /// The charter hash you trust.
    #[arg(long, value_name = "HEX")]
    pub charter_hash: Option<String>,
}

/// `accord serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address and port to listen on (port 0: any free port).
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: std::net::SocketAddr,
    /// The log key file; decrypted once and held in memory.
    #[arg(long, value_name = "FILE")]
    pub log_key: PathBuf,
    /// Sign a checkpoint at most this often while the tree grows.
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    pub checkpoint_every: u64,
    /// PEM certificate chain for HTTPS (with --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS (with --tls-cert).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Writes (submissions, cosignatures) per second per source address; 0 for no limit.
    #[arg(long, value_name = "N", default_value_t = 20.0)]
    pub rate_limit: f64,
    /// Writes one source address may make at once before --rate-limit applies.
    #[arg(long, value_name = "N", default_value_t = 40)]
    pub burst: u32,
    /// Connections open at once, from everyone; one more is closed as it is accepted
    /// (0: no limit).
    #[arg(long, value_name = "N", default_value_t = 4096)]
    pub max_connections: usize,
    /// Connections open at once from one source address (0: no limit).
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub max_connections_per_address: usize,
    /// Request headers must arrive within this (slow clients are cut off).
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub header_timeout: f64,
    /// A whole request, its body included, must be done within this (else 408).
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    pub request_timeout: f64,
    /// A connection on which nothing arrives for this long is closed.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    pub idle_timeout: f64,
    /// Free space (MiB) to keep on the ledger's file system: below it submissions are
    /// refused with 507 until space is freed (0: no reserve).
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    pub min_free_space: u64,
    /// A C2SP tlog-witness to ask for a cosignature of every new checkpoint (its submission
    /// prefix; repeat for several). Cosignatures are stored with the checkpoint.
    #[arg(long = "witness", value_name = "URL")]
    pub witnesses: Vec<String>,
    /// Passphrase source for the log key.
    #[command(flatten)]
    pub pass: PassArgs,
    /// Also publish to this object store after each checkpoint, in the background (the URL
    /// forms of `accord publish --to`).
    #[arg(long, value_name = "URL")]
    pub publish_to: Option<String>,
}

/// `accord publish`.
#[derive(Args, Debug)]
pub struct PublishArgs {
    /// Where: s3://BUCKET/PREFIX, gs://BUCKET/PREFIX, az://CONTAINER/PREFIX or file:///DIR.
    /// S3 is configured by the standard AWS variables (AWS_REGION, AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_ENDPOINT_URL, AWS_ALLOW_HTTP), GCS by
    /// GOOGLE_*, Azure by AZURE_*.
    #[arg(long, value_name = "URL")]
    pub to: String,
    /// Uploads at once.
    #[arg(long, value_name = "N", default_value_t = accord_publish::DEFAULT_JOBS)]
    pub jobs: usize,
    /// Re-check every tile and bundle from size 0, not only those new since the checkpoint
    /// the store holds (a repair after objects were deleted).
    #[arg(long)]
    pub all: bool,
}

/// `accord mirror`.
#[derive(Args, Debug)]
pub struct MirrorArgs {
    /// The log's base URL: an `accord serve`, or a static copy of its tiles at a URL prefix.
    #[arg(long, value_name = "URL")]
    pub from: String,
    /// The charter hash you trust (hex SHA-256 of the charter payload); checked on every run.
    #[arg(long, value_name = "HEX")]
    pub charter_hash: Option<String>,
    /// Keep the replica current: sync again every SECONDS until SIGTERM or SIGINT.
    #[arg(long, value_name = "SECONDS")]
    pub follow: Option<u64>,
    /// Give up on a request after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub timeout: u64,
    /// After each sync, cosign the checkpoint just verified as the member whose private key
    /// this is, in the same process: what `accord --ledger DIR cosign --key KEYFILE` does
    /// (verify what is new since KEYFILE.verified, then cosign the replica's latest
    /// checkpoint), without opening the replica a second time. A checkpoint the member has
    /// cosigned already is left as it is.
    #[arg(long, value_name = "KEYFILE")]
    pub cosign: Option<PathBuf>,
    /// Passphrase source for --cosign.
    #[command(flatten)]
    pub pass: PassArgs,
}

/// `accord verify-evidence`.
#[derive(Args, Debug)]
pub struct VerifyEvidenceArgs {
    /// The evidence file `accord mirror` wrote.
    pub file: PathBuf,
}
