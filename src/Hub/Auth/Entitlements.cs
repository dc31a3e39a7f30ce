using System.Security.Claims;
using SignalStream.Contracts;

namespace SignalStream.Hub.Auth;

/// <summary>What a caller may subscribe to, from its token's <c>symbols</c> and <c>max_subscriptions</c> claims.</summary>
internal sealed class Entitlements
{
    public const string SymbolsClaim = "symbols";
    public const string MaxSubscriptionsClaim = "max_subscriptions";
    public const string SubjectClaim = "sub";

    /// <summary>Added by the server (never taken from the token): when the token's connections are closed, Unix ms.</summary>
    public const string SessionEndClaim = "signalstream.session_end_ms";

    private readonly HashSet<string>? _symbols;

    private Entitlements(HashSet<string>? symbols, int? maxSubscriptions)
    {
        _symbols = symbols;
        MaxSubscriptions = maxSubscriptions;
    }

    /// <summary>Everything (<c>Auth:Mode=none</c>, or <c>symbols: "*"</c> without limits).</summary>
    public static Entitlements Unrestricted { get; } = new(null, null);

    /// <summary>The token's own subscription limit, when it carries one.</summary>
    public int? MaxSubscriptions { get; }

    public bool AllowsSymbol(string symbol) => _symbols is null || _symbols.Contains(symbol);

    public string Describe() => _symbols is null ? "all symbols" : string.Join(", ", _symbols.Order(StringComparer.Ordinal));

    /// <summary>Reads the claims the JWT handler put on the principal; an authenticated principal without a
    /// <c>symbols</c> claim is entitled to nothing.</summary>
    public static Entitlements From(ClaimsPrincipal? user)
    {
        if (user?.Identity?.IsAuthenticated != true || user.Identity.AuthenticationType != JwtAuthentication.SchemeName)
        {
            return Unrestricted;
        }

        HashSet<string>? symbols = new(StringComparer.Ordinal);
        int? max = null;
        foreach (var claim in user.Claims)
        {
            if (claim.Type == SymbolsClaim)
            {
                if (claim.Value == "*")
                {
                    symbols = null;
                }
                else
                {
                    symbols?.Add(claim.Value.ToUpperInvariant());
                }
            }
            else if (claim.Type == MaxSubscriptionsClaim && int.TryParse(claim.Value, out var value) && value >= 0)
            {
                max = value;
            }
        }

        return new Entitlements(symbols, max);
    }

    /// <summary>
    /// The performance report as this caller may see it: everything when unrestricted; otherwise only the rows of its
    /// symbols. Roll-ups over all symbols (<c>symbol: "*"</c>) are left out too, as they mix in symbols it may not see.
    /// </summary>
    public PerformanceReport Visible(PerformanceReport report)
    {
        if (_symbols is null)
        {
            return report;
        }

        var groups = new List<PerformanceGroup>();
        foreach (var group in report.Groups)
        {
            if (_symbols.Contains(group.Symbol))
            {
                groups.Add(group);
            }
        }

        return report with { Groups = groups };
    }

    /// <summary>When the hub closes a connection made with this token (Unix ms: <c>exp</c> + clock skew), or 0 without one.</summary>
    public static long ExpiryOf(ClaimsPrincipal? user) =>
        long.TryParse(user?.FindFirst(SessionEndClaim)?.Value, out var ms) ? ms : 0;

    /// <summary>The token's <c>sub</c> (who the caller is, for per-subject limits), or null without a token.</summary>
    public static string? SubjectOf(ClaimsPrincipal? user) =>
        user?.Identity?.IsAuthenticated == true ? user.FindFirst(SubjectClaim)?.Value : null;
}
