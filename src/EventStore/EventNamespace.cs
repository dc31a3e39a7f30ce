using System.Text.RegularExpressions;

namespace SignalStream.EventStore;

/// <summary>
/// The stream namespace this process writes and reads signals under: null for the live streams, a name such as
/// <c>replay-1</c> for a replay (streams <c>replay-1/signals-BTCUSDT</c>, …), which never touches live streams.
/// </summary>
/// <param name="Prefix">The namespace, or null for live.</param>
public sealed partial record EventNamespace(string? Prefix)
{
    /// <summary>True for a usable namespace: 1–64 characters of letters, digits, '-', '_' and '.', starting with a letter or digit.</summary>
    public static bool IsValid(string? name) => name is not null && NamePattern().IsMatch(name);

    /// <summary>Why <paramref name="name"/> is not a usable namespace, and what to use instead.</summary>
    public static string Rule(string? name) =>
        $"Stream namespace '{name}' is not valid: use 1–64 letters, digits, '-', '_' or '.', starting with a letter or digit (for example replay-2026-05-01).";

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex NamePattern();
}
