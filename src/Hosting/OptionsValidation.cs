using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace SignalStream.Hosting;

/// <summary>Options checked when the host starts, with every problem in one start failure.</summary>
public static class OptionsValidation
{
    /// <summary>
    /// Checks <typeparamref name="TOptions"/> with <paramref name="problems"/> when the host starts: an empty list means
    /// valid; otherwise the start fails with one <see cref="OptionsValidationException"/> that lists every problem
    /// (each message names its configuration key and how to fix it). May be called more than once for the same options
    /// type: every check runs and their problems are reported together.
    /// </summary>
    public static OptionsBuilder<TOptions> ValidateOnStart<TOptions>(
        this OptionsBuilder<TOptions> builder, Func<TOptions, IEnumerable<string>> problems)
        where TOptions : class
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(problems);
        builder.Services.AddSingleton<IValidateOptions<TOptions>>(new ProblemsValidator<TOptions>(problems));
        return builder.ValidateOnStart();
    }

    private sealed class ProblemsValidator<TOptions>(Func<TOptions, IEnumerable<string>> problems) : IValidateOptions<TOptions>
        where TOptions : class
    {
        public ValidateOptionsResult Validate(string? name, TOptions options)
        {
            var found = problems(options).ToList();
            return found.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(found);
        }
    }
}
