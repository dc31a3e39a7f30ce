namespace SignalStream.Hub.FanOut.Redis;

/// <summary>
/// The <c>Redis</c> section: what the bus adds to <c>ConnectionStrings:Redis</c> (which carries the endpoint, the
/// credentials and <c>ssl=true</c> in StackExchange.Redis's format). See docs/operations.md, "Locking the bus down".
/// </summary>
internal sealed class RedisBusOptions
{
    public const string SectionName = "Redis";

    /// <summary>Shortest signing key: 256 bits of base64 text.</summary>
    public const int MinKeyLength = 32;

    /// <summary>
    /// Shared secret that signs every bus message (HMAC-SHA256 over the JSON payload). When set, a node publishes
    /// signed messages and accepts only messages signed with this key (or <see cref="PreviousBusKey"/>): a client that
    /// can publish to Redis but lacks the key cannot inject signals. Empty: messages are neither signed nor checked.
    /// </summary>
    public string? BusKey { get; set; }

    /// <summary>The key being replaced during a rotation: accepted, never used to sign.</summary>
    public string? PreviousBusKey { get; set; }

    /// <summary>PEM file of the certificate authority that signed the Redis server's TLS certificate, when it is not
    /// one the machine already trusts (a private CA). Used with <c>ssl=true</c> in the connection string.</summary>
    public string? TlsCaFile { get; set; }

    public IEnumerable<string> Validate()
    {
        foreach (var (name, key) in new[] { (nameof(BusKey), BusKey), (nameof(PreviousBusKey), PreviousBusKey) })
        {
            if (!string.IsNullOrEmpty(key) && key.Length < MinKeyLength)
            {
                yield return $"{SectionName}:{name} is {key.Length} characters; use at least {MinKeyLength} (for example `openssl rand -base64 32`).";
            }
        }

        if (string.IsNullOrEmpty(BusKey) && !string.IsNullOrEmpty(PreviousBusKey))
        {
            yield return $"{SectionName}:PreviousBusKey is set without {SectionName}:BusKey; set the new key as BusKey during a rotation.";
        }

        if (!string.IsNullOrEmpty(TlsCaFile) && !File.Exists(TlsCaFile))
        {
            yield return $"{SectionName}:TlsCaFile is '{TlsCaFile}', which does not exist; give the path of the CA's PEM certificate.";
        }
    }
}
