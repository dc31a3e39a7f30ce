using System.Net;
using System.Security.Cryptography;
using System.Text;
using SignalStream.Hub.Tests.Infrastructure;

namespace SignalStream.Hub.Tests.Hostile;

/// <summary>
/// Tokens that try to choose how they are checked: <c>alg: none</c>, and the classic key confusion, an HS256 token
/// whose HMAC secret is the issuer's public RSA key (which anyone can download from the JWKS). Both are refused on the
/// <c>alg</c> header alone, before any key is used.
/// </summary>
public sealed class AlgorithmConfusionTests
{
    [Fact]
    public async Task HmacSignedWithThePublicKeyAndUnsignedTokensAreRefusedByARsaNode()
    {
        await using var issuer = await TestIssuer.StartAsync();
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: issuer.JwksSettings());
        var payload = issuer.Payload("\"*\"");
        var publicDer = issuer.Rsa.ExportSubjectPublicKeyInfo();
        var publicPem = Encoding.UTF8.GetBytes(issuer.Rsa.ExportSubjectPublicKeyInfoPem());
        var tokens = new[]
        {
            TestJwt.Sign("{\"alg\":\"HS256\",\"kid\":\"rsa-1\"}", payload, publicDer),
            TestJwt.Sign("{\"alg\":\"HS256\",\"kid\":\"rsa-1\"}", payload, publicPem),
            TestJwt.Sign("{\"alg\":\"HS256\"}", payload, issuer.Rsa.ExportParameters(false).Modulus!),
            TestJwt.Encode("{\"alg\":\"none\",\"kid\":\"rsa-1\"}") + "." + TestJwt.Encode(payload) + ".",
            TestJwt.Encode("{\"alg\":\"NONE\"}") + "." + TestJwt.Encode(payload) + "." + issuer.Rs256(payload).Split('.')[2],
        };

        foreach (var token in tokens)
        {
            var answer = await AuthProbe.GetAsync(node, token);
            Assert.Equal(HttpStatusCode.Unauthorized, answer.Status);
            Assert.Equal("bad_algorithm", answer.Reason);
            Assert.Equal(401, await AuthProbe.ConnectStatusAsync(node, token));
        }

        Assert.Equal(HttpStatusCode.OK, (await AuthProbe.GetAsync(node, issuer.Rs256(payload))).Status);
    }

    [Fact]
    public async Task ASharedKeyNodeRefusesPublicKeyAlgorithms()
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: TestJwt.Settings);
        using var rsa = RSA.Create(2048);
        var token = TestIssuer.Sign("{\"alg\":\"RS256\"}", TestJwt.Payload("\"*\""),
            input => rsa.SignData(input, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));

        var answer = await AuthProbe.GetAsync(node, token);
        Assert.Equal(HttpStatusCode.Unauthorized, answer.Status);
        Assert.Equal("bad_algorithm", answer.Reason);
    }
}
