using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using SignalStream.Engine.Inference;
using SignalStream.Engine.Pipeline;
using SignalStream.Engine.Signals;

namespace SignalStream.Engine;

/// <summary>Registers the engine stages: features and inference, signals, and the pipeline that drives them.</summary>
public static class EngineServiceCollectionExtensions
{
    public static IServiceCollection AddSignalStreamEngine(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<EngineOutputs>();
        services.AddSignalStreamInference(configuration);
        services.AddSignalStreamSignals(configuration);

        // After the model registry (AddSignalStreamInference): hosted services start in registration order and stop in
        // reverse, so the registry loads the models before the pipeline reads its first candle and releases them after
        // the pipeline has drained.
        services.AddHostedService<EnginePipeline>();
        return services;
    }
}
