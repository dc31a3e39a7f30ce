namespace SignalStream.Hub.Notifications;

/// <summary>The <c>Notifications</c> configuration section: the sinks signals are pushed to (docs/notifications.md).</summary>
public sealed class NotificationsOptions
{
    public const string SectionName = "Notifications";

    /// <summary>The most sinks one node runs (each has its own queue, workers and store streams).</summary>
    public const int MaxSinks = 32;

    /// <summary>The sinks by name (<c>Notifications:Sinks:{name}</c>).</summary>
    public Dictionary<string, SinkOptions> Sinks { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// How often every sink compares what it has read with the store, besides being woken by each publication: the
    /// safety net for a commit that landed after the wake-up's own retries gave up.
    /// </summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>One sink: where it delivers, what it takes, and how it retries (<c>Notifications:Sinks:{name}</c>).</summary>
public sealed class SinkOptions
{
    /// <summary><c>webhook</c>, <c>telegram</c>, <c>email</c>, <c>discord</c> or <c>slack</c>.</summary>
    public string Type { get; set; } = "";

    /// <summary>False keeps the configuration but runs nothing.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Only these symbols (empty: every symbol this node's engine serves). A list or comma-separated.</summary>
    public List<string> Symbols { get; set; } = [];

    /// <summary>Only these timeframes (empty: all). A list or comma-separated.</summary>
    public List<string> Timeframes { get; set; } = [];

    /// <summary>Only signals with at least this confidence (0–100); a resolution is sent when its signal qualified.</summary>
    public double MinConfidence { get; set; }

    /// <summary><c>signal</c> and/or <c>signalResolved</c> (empty: both). A list or comma-separated.</summary>
    public List<string> Events { get; set; } = [];

    /// <summary><c>webhook</c>, <c>discord</c>, <c>slack</c>: where to POST.</summary>
    public string? Url { get; set; }

    /// <summary><c>webhook</c>: the HMAC-SHA256 signing secret (at least 16 characters). Never logged.</summary>
    public string? Secret { get; set; }

    /// <summary><c>telegram</c>: the bot token from BotFather (<c>123456:ABC…</c>). Never logged.</summary>
    public string? BotToken { get; set; }

    /// <summary><c>telegram</c>: the chat: a numeric id or <c>@channelusername</c>.</summary>
    public string? ChatId { get; set; }

    /// <summary><c>telegram</c>: the Bot API base URL (a local Bot API server, or a test double).</summary>
    public string ApiBaseUrl { get; set; } = "https://api.telegram.org";

    /// <summary><c>email</c>: the SMTP server.</summary>
    public SmtpSettings Smtp { get; set; } = new();

    /// <summary>Delivery attempts before a notification becomes a dead letter (the first attempt counts).</summary>
    public int MaxAttempts { get; set; } = 8;

    /// <summary>The first retry's delay; it doubles per attempt up to <see cref="RetryMaxDelay"/>, with jitter.</summary>
    public TimeSpan RetryInitialDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest backoff between two attempts.</summary>
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The longest <c>Retry-After</c> honoured; a receiver asking for more is retried after this long.</summary>
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>One attempt's time limit (connect, send and the receiver's answer).</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Attempts in flight at once; 1 keeps notifications in order while none is being retried.</summary>
    public int Concurrency { get; set; } = 1;

    /// <summary>
    /// Notifications held in memory (queued, in flight or waiting for a retry). When full, the sink stops reading the
    /// store: later signals wait there, nothing is dropped, and the engine and other sinks are not held up.
    /// </summary>
    public int MaxPending { get; set; } = 1000;

    /// <summary>The same bound in payload bytes.</summary>
    public long MaxPendingBytes { get; set; } = 4L * 1024 * 1024;

    /// <summary>The <c>Notifications:Sinks:{name}:Smtp</c> section.</summary>
    public sealed class SmtpSettings
    {
        public string? Host { get; set; }

        public int Port { get; set; } = 587;

        /// <summary><c>starttls</c> (default; the server must offer STARTTLS) or <c>tls</c> (TLS from the first byte, port 465).</summary>
        public string Security { get; set; } = "starttls";

        /// <summary>Sign-in name; with <see cref="Password"/>. Empty: no AUTH (a relay that trusts this host).</summary>
        public string? Username { get; set; }

        /// <summary>Never logged.</summary>
        public string? Password { get; set; }

        public string? From { get; set; }

        /// <summary>Recipients. A list or comma-separated.</summary>
        public List<string> To { get; set; } = [];

        /// <summary>Put before every subject.</summary>
        public string SubjectPrefix { get; set; } = "[SignalStream]";

        /// <summary>A PEM certificate (a private CA or the server's own) to trust besides the system's roots.</summary>
        public string? TrustedCertificatePath { get; set; }
    }
}
