using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace SignalStream.Ingest.Simulated;

/// <summary>Registers the <c>simulated</c> candle source (Ingest:Source=simulated).</summary>
public static class SimulatedSourceRegistration
{
    public static IServiceCollection AddSimulatedSource(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<SimulatedSourceOptions>()
            .Bind(configuration.GetSection(SimulatedSourceOptions.SectionName))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<SimulatedSourceOptions>, Validator>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<ICandleSource, SimulatedCandleSource>();
        return services;
    }

    private sealed class Validator : IValidateOptions<SimulatedSourceOptions>
    {
        public ValidateOptionsResult Validate(string? name, SimulatedSourceOptions options)
        {
            var problems = options.Validate().ToList();
            return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
        }
    }
}
