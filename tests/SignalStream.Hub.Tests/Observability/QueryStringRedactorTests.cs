using FsCheck;
using FsCheck.Fluent;
using SignalStream.Hub.Observability.Logging;

namespace SignalStream.Hub.Tests.Observability;

public sealed class QueryStringRedactorTests
{
    [Theory]
    [InlineData("?access_token=abc.def.ghi", "?access_token=[redacted]")]
    [InlineData("?id=7&ACCESS_TOKEN=x&afterSeq=3", "?id=7&ACCESS_TOKEN=[redacted]&afterSeq=3")]
    [InlineData("?access%5Ftoken=x", "?access%5Ftoken=[redacted]")]
    [InlineData("?symbol=BTCUSDT&signature=f00", "?symbol=BTCUSDT&signature=[redacted]")]
    [InlineData("?symbol=BTCUSDT", "?symbol=BTCUSDT")]
    [InlineData("", "")]
    public void CredentialValuesAreReplacedAndEverythingElseIsKept(string query, string expected)
    {
        Assert.Equal(expected, QueryStringRedactor.Redact(query));
    }

    [Fact]
    public void NoTokenValueSurvivesRedactionWhateverSurroundsIt()
    {
        var safeText = Gen.Elements("a", "b", "1", "%20", "-", "=").ArrayOf().Select(parts => string.Concat(parts));
        var token = Gen.Elements("x", "y", "Z", "9", ".", "_").NonEmptyListOf().Select(parts => "TOKEN" + string.Concat(parts));
        var query = from before in safeText
                    from after in safeText
                    from secret in token
                    from key in Gen.Elements("access_token", "Access_Token", "token", "api_key")
                    select (Query: $"?a={before}&{key}={secret}&b={after}", Secret: secret);

        Prop.ForAll(query.ToArbitrary(), sample =>
        {
            var redacted = QueryStringRedactor.Redact(sample.Query);

            Assert.DoesNotContain(sample.Secret, redacted, StringComparison.Ordinal);
            Assert.StartsWith("?a=", redacted, StringComparison.Ordinal);
            Assert.Contains("=[redacted]&b=", redacted, StringComparison.Ordinal);
        }).QuickCheckThrowOnFailure();
    }
}
