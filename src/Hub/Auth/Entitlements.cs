using System.Security.Claims;

namespace SignalStream.Hub.Auth;

/// <summary>What a caller may subscribe to, from its token's <c>symbols</c> and <c>max_subscriptions</c> claims.</summary>
internal sealed class Entitlements
{
    public const string SymbolsClaim = "symbols";
    public const string MaxSubscriptionsClaim = "max_subscriptions";
    public const string ExpiresClaim = "exp";

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
        if (user?.Identity?.IsAuthenticated != true || user.Identity.AuthenticationType != JwtAuthenticationHandler.SchemeName)
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
            else if (claim.Type == MaxSubscriptionsClaim && int.TryParse(claim.Value, out var value))
            {
                max = value;
            }
        }

        return new Entitlements(symbols, max);
    }

    /// <summary>Token expiry in Unix ms, or 0.</summary>
    public static long ExpiryOf(ClaimsPrincipal? user) =>
        long.TryParse(user?.FindFirst(ExpiresClaim)?.Value, out var seconds) ? seconds * 1000 : 0;
}
