using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text.Json;
using SignalStream.Engine.Features;

namespace SignalStream.Engine.Tests.Features;

/// <summary>The bundled manifests agree with the engine's features and with their own files.</summary>
public sealed class BundledModelManifestTests
{
    private static string ModelsDirectory([CallerFilePath] string thisFile = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(thisFile)!, "..", "..", "..", "models"));

    public static TheoryData<string> Manifests()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.EnumerateFiles(ModelsDirectory(), "*.manifest.json").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(file));
        }

        return data;
    }

    [Fact]
    public void AnLstmAPatchTstAndAShadowModelAreBundled()
    {
        var manifests = Directory.EnumerateFiles(ModelsDirectory(), "*.manifest.json")
            .Select(f => JsonDocument.Parse(File.ReadAllText(f)).RootElement).ToList();
        Assert.Contains(manifests, m => m.GetProperty("family").GetString() == "lstm" && m.GetProperty("status").GetString() == "active" && m.GetProperty("weight").GetDouble() == 0.6);
        Assert.Contains(manifests, m => m.GetProperty("family").GetString() == "patchtst" && m.GetProperty("status").GetString() == "active" && m.GetProperty("weight").GetDouble() == 0.4);
        Assert.Contains(manifests, m => m.GetProperty("status").GetString() == "shadow");
    }

    [Theory]
    [MemberData(nameof(Manifests))]
    public void AManifestNamesCatalogFeaturesMatchesItsFileAndCarriesParityVectors(string manifestFile)
    {
        var directory = ModelsDirectory();
        var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(directory, manifestFile))).RootElement;
        var features = manifest.GetProperty("features").EnumerateArray().Select(f => f.GetString()!).ToArray();
        Assert.True(FeatureCatalog.TryResolve(features, out _, out var unknown), $"unknown feature {unknown}");

        var window = manifest.GetProperty("window").GetInt32();
        var shape = manifest.GetProperty("input").GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.Equal([-1, window, features.Length], shape);
        Assert.Equal("features", manifest.GetProperty("input").GetProperty("name").GetString());
        Assert.Equal("probabilities", manifest.GetProperty("output").GetProperty("name").GetString());
        Assert.Contains(manifest.GetProperty("family").GetString(), (string[])["lstm", "patchtst"]);
        Assert.Contains(manifest.GetProperty("status").GetString(), (string[])["active", "shadow"]);

        var onnx = File.ReadAllBytes(Path.Combine(directory, manifest.GetProperty("file").GetString()!));
        Assert.True(onnx.Length < 1_000_000, $"{onnx.Length} bytes");
        Assert.Equal(manifest.GetProperty("sha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(onnx)));

        // A recurrent model's vectors are samples of several steps, each from a state PyTorch gives (its window is 1).
        var recurrent = manifest.TryGetProperty("recurrent", out _);
        var parity = JsonDocument.Parse(File.ReadAllText(Path.Combine(directory, manifest.GetProperty("parity").GetString()!))).RootElement;
        var inputs = parity.GetProperty("inputs");
        var outputs = parity.GetProperty("outputs");
        Assert.True(inputs.GetArrayLength() >= (recurrent ? 8 : 16));
        Assert.Equal(inputs.GetArrayLength(), outputs.GetArrayLength());
        var rows = recurrent ? parity.GetProperty("steps").GetInt32() : window;
        foreach (var sample in inputs.EnumerateArray())
        {
            Assert.Equal(rows, sample.GetArrayLength());
            Assert.All(sample.EnumerateArray(), row => Assert.Equal(features.Length, row.GetArrayLength()));
        }

        foreach (var output in outputs.EnumerateArray())
        {
            Assert.Equal(1.0, output.EnumerateArray().Sum(p => p.GetDouble()), 1e-5);
        }
    }
}
