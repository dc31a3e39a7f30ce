using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace SignalStream.Ingest.Replay;

/// <summary>Registers the <c>replay</c> candle source (Ingest:Source=replay).</summary>
public static class ReplaySourceRegistration
{
    public static IServiceCollection AddReplaySource(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ReplaySourceOptions>()
            .Bind(configuration.GetSection(ReplaySourceOptions.SectionName))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<ReplaySourceOptions>, Validator>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<ICandleSource, ReplayCandleSource>();
        return services;
    }

    private sealed class Validator : IValidateOptions<ReplaySourceOptions>
    {
        public ValidateOptionsResult Validate(string? name, ReplaySourceOptions options)
        {
            var problems = options.Validate().ToList();
            return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
        }
    }
}
