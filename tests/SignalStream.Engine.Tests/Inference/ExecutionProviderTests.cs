using System.Runtime.InteropServices;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using SignalStream.Engine.Inference;
using SignalStream.Engine.Inference.Onnx;

namespace SignalStream.Engine.Tests.Inference;

/// <summary>Inference:ExecutionProvider with the package this repository references (Microsoft.ML.OnnxRuntime, CPU only).</summary>
public sealed class ExecutionProviderTests
{
    [Fact]
    public void TheCpuProviderIsAvailableFromThePackagesNativeLibrary()
    {
        Assert.Null(OnnxProviders.Unavailable(OnnxProvider.Cpu));
        Assert.StartsWith("1.32.", OnnxProviders.RuntimeVersion, StringComparison.Ordinal);
    }

    [Fact]
    public void CpuIsTheDefaultAndLoadsTheBundledModels()
    {
        var options = Resolve([]);

        Assert.Equal("cpu", options.ExecutionProvider);
        Assert.Equal(OnnxProvider.Cpu, options.SessionSettings.Provider);
        using var session = OnnxSession.Create(Fixtures.Bytes("tiny-mean.onnx"), options.SessionSettings);
        Assert.Equal(OnnxProvider.Cpu, session.Provider);
    }

    [Fact]
    public void CudaWithoutTheGpuPackageStopsTheStartWithAMessageNamingThePackage()
    {
        var ex = Assert.Throws<OptionsValidationException>(() => Resolve([new("Inference:ExecutionProvider", "cuda")]));

        var message = Assert.Single(ex.Failures);
        Assert.Contains("'cuda'", message, StringComparison.Ordinal);
        Assert.Contains("Microsoft.ML.OnnxRuntime.Gpu", message, StringComparison.Ordinal);
        Assert.Contains("CPUExecutionProvider", message, StringComparison.Ordinal);
    }

    [Fact]
    public void DirectMLIsRejectedWithAMessageThatSaysWhatItNeeds()
    {
        var message = OnnxProviders.Unavailable(OnnxProvider.DirectML);

        Assert.NotNull(message);
        Assert.Contains(RuntimeInformation.IsOSPlatform(OSPlatform.Windows) ? "Microsoft.ML.OnnxRuntime.DirectML" : "Windows only",
            message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("tpu")]
    [InlineData("")]
    public void AnUnknownProviderIsRejectedListingTheKnownOnes(string value)
    {
        var ex = Assert.Throws<OptionsValidationException>(() => Resolve([new("Inference:ExecutionProvider", value)]));

        Assert.Contains(ex.Failures, f => f.Contains("Inference:ExecutionProvider", StringComparison.Ordinal) && f.Contains("cpu, cuda, directml", StringComparison.Ordinal));
    }

    [Fact]
    public void SessionSettingsOfAnUnvalidatedUnknownProviderThrowInsteadOfFallingBackToCpu()
    {
        var options = new InferenceOptions { ExecutionProvider = "tpu" };

        var ex = Assert.Throws<InvalidOperationException>(() => options.SessionSettings);

        Assert.Contains("'tpu'", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("CPU", "Cpu")]
    [InlineData("Cuda", "Cuda")]
    [InlineData("dml", "DirectML")]
    public void ProviderNamesAreCaseInsensitive(string value, string expected)
    {
        Assert.True(OnnxProviders.TryParse(value, out var provider));
        Assert.Equal(expected, provider.ToString());
    }

    [Fact]
    public void ThreadSettingsReachTheSession()
    {
        var options = Resolve([new("Inference:IntraOpThreads", "2"), new("Inference:IntraOpSpinning", "true"), new("Inference:DeviceId", "1")]);

        Assert.Equal(new OnnxSessionSettings(2, OnnxProvider.Cpu, 1, IntraOpSpinning: true), options.SessionSettings);
        using var session = OnnxSession.Create(Fixtures.Bytes("tiny-mean.onnx"), options.SessionSettings);
        var (inputs, expected) = Fixtures.Parity(Fixtures.PathOf("tiny-mean.parity.json"));
        OnnxSessionTests.AssertClose(expected, OnnxSessionTests.RunAll(session, inputs), 1e-5f);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("17")]
    public void WorkersPerLiveModelOutsideOneToSixteenIsRejectedNamingTheKey(string value)
    {
        var ex = Assert.Throws<OptionsValidationException>(() => Resolve([new("Inference:WorkersPerLiveModel", value)]));

        Assert.Contains(ex.Failures, f => f.Contains($"Inference:WorkersPerLiveModel is {value}", StringComparison.Ordinal) && f.Contains("1 to 16", StringComparison.Ordinal));
    }

    /// <summary>The options as the host resolves them: bound from configuration and validated (ValidateOnStart's validator).</summary>
    private static InferenceOptions Resolve(KeyValuePair<string, string?>[] settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        using var services = new ServiceCollection().AddLogging().AddSignalStreamInference(configuration).BuildServiceProvider();
        return services.GetRequiredService<IOptions<InferenceOptions>>().Value;
    }
}
