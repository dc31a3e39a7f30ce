using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace SignalStream.Testing;

/// <summary>Keeps every log entry (formatted) so tests can assert what was and was not written.</summary>
public sealed class CapturingLoggerProvider : ILoggerProvider
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();
    private readonly ConcurrentBag<(int EventId, TaskCompletionSource<LogEntry> Done)> _waiters = [];

    public IReadOnlyCollection<LogEntry> Entries => _entries;

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public Task<LogEntry> WaitForEventAsync(int eventId)
    {
        var done = new TaskCompletionSource<LogEntry>(TaskCreationOptions.RunContinuationsAsynchronously);
        _waiters.Add((eventId, done));
        foreach (var entry in _entries)
        {
            if (entry.EventId == eventId)
            {
                done.TrySetResult(entry);
            }
        }

        return done.Task;
    }

    public void Dispose()
    {
    }

    private void Add(LogEntry entry)
    {
        _entries.Enqueue(entry);
        foreach (var (eventId, done) in _waiters)
        {
            if (eventId == entry.EventId)
            {
                done.TrySetResult(entry);
            }
        }
    }

    public sealed record LogEntry(string Category, int EventId, LogLevel Level, string Message, string State, string? Exception = null);

    private sealed class Logger(CapturingLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var fields = state is IEnumerable<KeyValuePair<string, object?>> pairs
                ? string.Join(";", pairs.Select(p => p.Key + "=" + p.Value))
                : state?.ToString() ?? "";
            owner.Add(new LogEntry(category, eventId.Id, logLevel, formatter(state, exception), fields, exception?.ToString()));
        }
    }
}
