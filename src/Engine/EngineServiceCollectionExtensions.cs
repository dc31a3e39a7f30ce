using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using SignalStream.Engine.Inference;
using SignalStream.Engine.Signals;

namespace SignalStream.Engine;

/// <summary>Registers the engine stages: features and inference (with the pipeline that drives them), then signals.</summary>
public static class EngineServiceCollectionExtensions
{
    public static IServiceCollection AddSignalStreamEngine(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<EngineOutputs>();
        services.AddSignalStreamInference(configuration);
        services.AddSignalStreamSignals(configuration);
        return services;
    }
}
