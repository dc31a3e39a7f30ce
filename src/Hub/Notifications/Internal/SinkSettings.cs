using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using SignalStream.Contracts;

namespace SignalStream.Hub.Notifications.Internal;

/// <summary>The kinds of sink.</summary>
internal enum SinkType
{
    Webhook,
    Telegram,
    Email,
    Discord,
    Slack,
}

/// <summary>The events a sink can take.</summary>
[Flags]
internal enum NotificationEvents
{
    None = 0,
    Signal = 1,
    SignalResolved = 2,
    All = Signal | SignalResolved,
}

/// <summary>
/// One sink's configuration, resolved once at start from <see cref="SinkOptions"/> into an immutable snapshot;
/// <see cref="TryResolve"/> says what is wrong, and how to fix it, for every problem at once.
/// </summary>
internal sealed partial record SinkSettings(
    string Name,
    SinkType Type,
    SinkFilter Filter,
    RetrySettings Retry,
    TimeSpan Timeout,
    int Concurrency,
    int MaxPending,
    long MaxPendingBytes,
    Uri? Url,
    string? Secret,
    string? BotToken,
    string? ChatId,
    Uri? ApiBaseUrl,
    SmtpSettings? Smtp)
{
    /// <summary>The label used in metrics and stream names (lower-case).</summary>
    public string Label { get; } = Name.ToLowerInvariant();

    public string TypeName => TypeNames[(int)Type];

    internal static readonly string[] TypeNames = ["webhook", "telegram", "email", "discord", "slack"];

    /// <summary>Every secret of this sink, for scrubbing from error messages before they are logged or stored.</summary>
    public IEnumerable<string> Secrets()
    {
        foreach (var secret in new[] { Secret, BotToken, Smtp?.Password, Type is SinkType.Discord or SinkType.Slack ? Url?.AbsolutePath : null })
        {
            if (!string.IsNullOrEmpty(secret) && secret.Length >= 4)
            {
                yield return secret;
            }
        }
    }

    public static bool TryResolve(string name, SinkOptions o, List<string> errors, out SinkSettings? settings)
    {
        settings = null;
        var key = $"Notifications:Sinks:{name}";
        var before = errors.Count;
        if (!NamePattern().IsMatch(name))
        {
            errors.Add($"{key}: the sink name '{name}' must be 1–64 letters, digits, '-' or '_' (it names the sink's metrics and store streams).");
        }

        var typeIndex = Array.IndexOf(TypeNames, (o.Type ?? "").Trim().ToLowerInvariant());
        if (typeIndex < 0)
        {
            errors.Add($"{key}:Type is '{o.Type}'; use one of: {string.Join(", ", TypeNames)}.");
            return false;
        }

        var type = (SinkType)typeIndex;
        var filter = ResolveFilter(key, o, errors);
        var retry = ResolveRetry(key, o, errors);
        if (o.Timeout < TimeSpan.FromMilliseconds(100) || o.Timeout > TimeSpan.FromMinutes(5))
        {
            errors.Add($"{key}:Timeout is {o.Timeout}; use 00:00:00.100 to 00:05:00 (one attempt's limit, default 00:00:10).");
        }

        if (o.Concurrency is < 1 or > 32)
        {
            errors.Add($"{key}:Concurrency is {o.Concurrency}; use 1 to 32 (1 keeps notifications in order).");
        }

        if (o.MaxPending is < 1 or > 100_000)
        {
            errors.Add($"{key}:MaxPending is {o.MaxPending}; use 1 to 100000 (default 1000).");
        }

        if (o.MaxPendingBytes is < 64 * 1024 or > 1024L * 1024 * 1024)
        {
            errors.Add($"{key}:MaxPendingBytes is {o.MaxPendingBytes}; use 65536 to 1073741824 (default 4194304).");
        }

        Uri? url = null, apiBase = null;
        string? secret = null, botToken = null, chatId = null;
        SmtpSettings? smtp = null;
        switch (type)
        {
            case SinkType.Webhook:
                url = RequireUrl(key + ":Url", o.Url, allowPlainHttp: true, errors);
                secret = o.Secret;
                if (string.IsNullOrEmpty(secret) || secret.Length < 16)
                {
                    errors.Add($"{key}:Secret must be at least 16 characters (receivers verify X-SignalStream-Signature with it); generate one, e.g. `openssl rand -hex 32`.");
                }

                break;
            case SinkType.Discord:
            case SinkType.Slack:
                // The incoming-webhook URL is itself the credential: it must not travel in clear text.
                url = RequireUrl(key + ":Url", o.Url, allowPlainHttp: false, errors);
                break;
            case SinkType.Telegram:
                botToken = o.BotToken?.Trim();
                if (string.IsNullOrEmpty(botToken) || !BotTokenPattern().IsMatch(botToken))
                {
                    errors.Add($"{key}:BotToken must be the token BotFather gave the bot ('<digits>:<letters, digits, - or _>').");
                }

                chatId = o.ChatId?.Trim();
                if (string.IsNullOrEmpty(chatId) || !(long.TryParse(chatId, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _) || ChannelPattern().IsMatch(chatId)))
                {
                    errors.Add($"{key}:ChatId must be a numeric chat id (e.g. -1001234567890) or a public channel's @username.");
                }

                apiBase = RequireUrl(key + ":ApiBaseUrl", o.ApiBaseUrl, allowPlainHttp: false, errors);
                break;
            case SinkType.Email:
                smtp = SmtpSettings.Resolve(key + ":Smtp", o.Smtp, errors);
                break;
        }

        if (errors.Count > before)
        {
            smtp?.TrustedCertificate?.Dispose();
            return false;
        }

        settings = new SinkSettings(name, type, filter, retry, o.Timeout, o.Concurrency, o.MaxPending, o.MaxPendingBytes, url, secret, botToken, chatId, apiBase, smtp);
        return true;
    }

    private static SinkFilter ResolveFilter(string key, SinkOptions o, List<string> errors)
    {
        var symbols = new HashSet<string>(StringComparer.Ordinal);
        foreach (var symbol in o.Symbols)
        {
            var s = symbol.Trim().ToUpperInvariant();
            if (s.Length is < 2 or > 20 || !s.All(char.IsAsciiLetterOrDigit))
            {
                errors.Add($"{key}:Symbols has '{symbol}', which is not a symbol (2–20 ASCII letters or digits, e.g. BTCUSDT).");
            }
            else
            {
                symbols.Add(s);
            }
        }

        var timeframes = new HashSet<Timeframe>();
        foreach (var name in o.Timeframes)
        {
            if (Contracts.Timeframes.TryParse(name.Trim().AsSpan(), out var tf))
            {
                timeframes.Add(tf);
            }
            else
            {
                errors.Add($"{key}:Timeframes has '{name}', which is not a Binance interval name (case-sensitive: {string.Join(", ", Contracts.Timeframes.Names)}).");
            }
        }

        if (!double.IsFinite(o.MinConfidence) || o.MinConfidence is < 0 or > 100)
        {
            errors.Add($"{key}:MinConfidence is {o.MinConfidence}; use 0 to 100 (a signal's confidence scale).");
        }

        var events = NotificationEvents.None;
        foreach (var name in o.Events)
        {
            events |= name.Trim() switch
            {
                "signal" => NotificationEvents.Signal,
                "signalResolved" => NotificationEvents.SignalResolved,
                _ => Invalid(name),
            };
        }

        return new SinkFilter(symbols, timeframes, o.MinConfidence, events == NotificationEvents.None ? NotificationEvents.All : events);

        NotificationEvents Invalid(string name)
        {
            errors.Add($"{key}:Events has '{name}'; use signal and/or signalResolved (the hub's event names).");
            return NotificationEvents.None;
        }
    }

    private static RetrySettings ResolveRetry(string key, SinkOptions o, List<string> errors)
    {
        if (o.MaxAttempts is < 1 or > 100)
        {
            errors.Add($"{key}:MaxAttempts is {o.MaxAttempts}; use 1 to 100 (the first attempt counts; default 8).");
        }

        if (o.RetryInitialDelay <= TimeSpan.Zero || o.RetryMaxDelay < o.RetryInitialDelay || o.RetryMaxDelay > TimeSpan.FromDays(1))
        {
            errors.Add($"{key}: RetryInitialDelay ({o.RetryInitialDelay}) must be positive and not above RetryMaxDelay ({o.RetryMaxDelay}), which is at most 1.00:00:00.");
        }

        if (o.MaxRetryAfter < TimeSpan.Zero || o.MaxRetryAfter > TimeSpan.FromDays(1))
        {
            errors.Add($"{key}:MaxRetryAfter is {o.MaxRetryAfter}; use 00:00:00 to 1.00:00:00 (the longest Retry-After honoured).");
        }

        return new RetrySettings(o.MaxAttempts, o.RetryInitialDelay, o.RetryMaxDelay, o.MaxRetryAfter);
    }

    private static Uri? RequireUrl(string key, string? value, bool allowPlainHttp, List<string> errors)
    {
        if (string.IsNullOrWhiteSpace(value) || !Uri.TryCreate(value.Trim(), UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            errors.Add($"{key} must be an absolute http(s) URL.");
            return null;
        }

        if (uri.Scheme == "http" && !allowPlainHttp && !IsLoopback(uri))
        {
            errors.Add($"{key} must use https: the URL carries a credential (plain http is accepted only for a loopback address, for tests).");
            return null;
        }

        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            errors.Add($"{key} must not carry a user name or password before the host.");
            return null;
        }

        return uri;
    }

    private static bool IsLoopback(Uri uri) =>
        uri.IsLoopback || (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex NamePattern();

    [GeneratedRegex("^[0-9]{1,20}:[A-Za-z0-9_-]{20,200}$")]
    private static partial Regex BotTokenPattern();

    [GeneratedRegex("^@[A-Za-z][A-Za-z0-9_]{3,64}$")]
    private static partial Regex ChannelPattern();
}

/// <summary>What a sink takes: symbols and timeframes (empty: all), a confidence floor, and which events.</summary>
internal sealed record SinkFilter(IReadOnlySet<string> Symbols, IReadOnlySet<Timeframe> Timeframes, double MinConfidence, NotificationEvents Events)
{
    public bool Takes(NotificationEvents @event) => (Events & @event) != 0;

    public bool TakesSymbol(string symbol) => Symbols.Count == 0 || Symbols.Contains(symbol);

    /// <summary>Whether a signal qualifies; a resolution qualifies exactly when its signal did.</summary>
    public bool Takes(Signal signal) =>
        TakesSymbol(signal.Symbol)
        && (Timeframes.Count == 0 || Timeframes.Contains(signal.Timeframe))
        && signal.Confidence >= MinConfidence;
}

/// <summary>Attempts, backoff and the Retry-After cap.</summary>
internal sealed record RetrySettings(int MaxAttempts, TimeSpan InitialDelay, TimeSpan MaxDelay, TimeSpan MaxRetryAfter);

/// <summary>A resolved SMTP server.</summary>
internal sealed record SmtpSettings(
    string Host,
    int Port,
    bool ImplicitTls,
    string? Username,
    string? Password,
    MimeKit.MailboxAddress From,
    IReadOnlyList<MimeKit.MailboxAddress> To,
    string SubjectPrefix,
    System.Security.Cryptography.X509Certificates.X509Certificate2? TrustedCertificate)
{
    public static SmtpSettings? Resolve(string key, SinkOptions.SmtpSettings o, List<string> errors)
    {
        var before = errors.Count;
        if (string.IsNullOrWhiteSpace(o.Host))
        {
            errors.Add($"{key}:Host is empty; set the SMTP server's host name.");
        }

        if (o.Port is < 1 or > 65535)
        {
            errors.Add($"{key}:Port is {o.Port}; use 1 to 65535 (587 for STARTTLS, 465 for TLS).");
        }

        var security = (o.Security ?? "").Trim().ToLowerInvariant();
        if (security is not ("starttls" or "tls"))
        {
            errors.Add($"{key}:Security is '{o.Security}'; use starttls (port 587) or tls (port 465). Plain SMTP is not offered: it would send the password in clear.");
        }

        if (string.IsNullOrEmpty(o.Username) != string.IsNullOrEmpty(o.Password))
        {
            errors.Add($"{key}: set Username and Password together (or neither, for a relay that needs no AUTH).");
        }

        if (!MimeKit.MailboxAddress.TryParse(o.From ?? "", out var from) || !from.Address.Contains('@', StringComparison.Ordinal))
        {
            errors.Add($"{key}:From '{o.From}' is not a mail address (e.g. SignalStream <signals@example.com>).");
        }

        var to = new List<MimeKit.MailboxAddress>();
        foreach (var address in o.To)
        {
            if (MimeKit.MailboxAddress.TryParse(address.Trim(), out var mailbox) && mailbox.Address.Contains('@', StringComparison.Ordinal))
            {
                to.Add(mailbox);
            }
            else
            {
                errors.Add($"{key}:To has '{address}', which is not a mail address.");
            }
        }

        if (o.To.Count == 0)
        {
            errors.Add($"{key}:To is empty; list at least one recipient.");
        }

        System.Security.Cryptography.X509Certificates.X509Certificate2? trusted = null;
        if (!string.IsNullOrWhiteSpace(o.TrustedCertificatePath))
        {
            try
            {
#pragma warning disable CA2000 // disposed below when refused; otherwise the returned settings own it and their sender disposes it
                trusted = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(File.ReadAllText(o.TrustedCertificatePath));
#pragma warning restore CA2000
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
            {
                errors.Add($"{key}:TrustedCertificatePath '{o.TrustedCertificatePath}' is not a readable PEM certificate: {ex.Message}");
            }
        }

        if (errors.Count > before)
        {
            trusted?.Dispose();
            return null;
        }

        return new SmtpSettings(o.Host!.Trim(), o.Port, security == "tls", NullIfEmpty(o.Username), NullIfEmpty(o.Password), from!, to, o.SubjectPrefix ?? "", trusted);
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
