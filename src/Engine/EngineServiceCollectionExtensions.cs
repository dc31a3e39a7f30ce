using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SignalStream.Engine.Inference;
using SignalStream.Engine.Inference.Internal;
using SignalStream.Engine.Pipeline;
using SignalStream.Engine.Signals;

namespace SignalStream.Engine;

/// <summary>Registers the engine stages: features and inference, signals, and the pipeline that drives them.</summary>
public static class EngineServiceCollectionExtensions
{
    /// <summary>
    /// Adds the engine. Its ports come from the composition root, which says what they are: <paramref name="outputs"/>
    /// builds the engine's way out (the durable output, then the publishers, in order), and the root registers the
    /// candle source (<see cref="ICandleUpdateReader"/>) and the per-symbol sequence (<see cref="ISignalSequence"/>: the
    /// event store's, so seq survives a restart); a missing one fails the start, nothing falls back.
    /// </summary>
    public static IServiceCollection AddSignalStreamEngine(this IServiceCollection services, IConfiguration configuration, Func<IServiceProvider, EngineOutputs> outputs)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        services.AddSingleton(outputs);
        services.AddSignalStreamInference(configuration);
        services.AddSignalStreamSignals(configuration);

        // After the model registry (AddSignalStreamInference): the services one call registers start in its order and
        // stop in reverse (the server's NodeStartup keeps it within the engine's stage), so the registry loads the models
        // before the pipeline reads its first candle and releases them after the pipeline has drained.
        services.AddHostedService(sp => new EnginePipeline(
            sp.GetRequiredService<ICandleUpdateReader>(),
            sp.GetRequiredService<ISignalStage>(),
            sp.GetRequiredService<ModelRegistry>(),
            sp.GetRequiredService<EngineOutputs>(),
            sp.GetRequiredService<InferenceMetrics>(),
            sp.GetRequiredService<InferenceOptions>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<EnginePipeline>>()));
        return services;
    }
}
