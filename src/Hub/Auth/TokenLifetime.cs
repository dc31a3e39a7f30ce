using Microsoft.IdentityModel.JsonWebTokens;

namespace SignalStream.Hub.Auth;

/// <summary>
/// The lifetime rule, one for every request and connection: a token is good until its <em>session end</em>,
/// <c>exp</c> + <c>ClockSkew</c>; it is accepted only while at least <c>MinRemainingLifetime</c> of that is left, and the
/// hub closes its connections at the session end. So a connection is never accepted only to be closed a moment
/// later (the old rule accepted a token inside the skew, then closed it at <c>exp</c>, on the next sweep, in a loop).
/// </summary>
/// <remarks>
/// It replaces IdentityModel's lifetime check, which turns an <c>exp</c> past year 9999 (1e13) into "never expires".
/// <c>exp</c> and <c>nbf</c> must be NumericDates from 0 to 253402300799 (the end of year 9999): anything else is
/// <see cref="TokenRejection.BadLifetime"/>; numbers too large for a 64-bit integer (1e300) do not even parse and are
/// <see cref="TokenRejection.Malformed"/>.
/// </remarks>
internal static class TokenLifetime
{
    /// <summary>9999-12-31T23:59:59Z, the last second <see cref="DateTimeOffset"/> holds.</summary>
    public const long MaxNumericDate = 253_402_300_799;

    /// <summary>The session end in Unix ms, or the reason the token is refused now.</summary>
    public static TokenRejection? Check(JsonWebToken token, long nowMs, AuthOptions.JwtSettings settings, out long sessionEndMs)
    {
        sessionEndMs = 0;
        if (!token.TryGetPayloadValue<double>(JwtRegisteredClaimNames.Exp, out var exp))
        {
            return TokenRejection.Malformed;
        }

        double? nbf = token.TryGetPayloadValue<double>(JwtRegisteredClaimNames.Nbf, out var notBefore) ? notBefore : null;
        if (!InRange(exp) || (nbf is { } n && !InRange(n)))
        {
            return TokenRejection.BadLifetime;
        }

        var skewMs = (long)settings.ClockSkew.TotalMilliseconds;
        sessionEndMs = (long)(exp * 1000) + skewMs;
        if (sessionEndMs <= nowMs)
        {
            return TokenRejection.Expired;
        }

        if (sessionEndMs - nowMs < (long)settings.MinRemainingLifetime.TotalMilliseconds)
        {
            return TokenRejection.ExpiresTooSoon;
        }

        if (nbf is { } start && (long)(start * 1000) - skewMs > nowMs)
        {
            return TokenRejection.NotYetValid;
        }

        return null;
    }

    private static bool InRange(double numericDate) => numericDate is >= 0 and <= MaxNumericDate;
}
