using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SignalStream.EventStore;
using SignalStream.Hub.Hosting;
using SignalStream.Hub.Tests.Infrastructure;

namespace SignalStream.Hub.Tests.EndToEnd;

/// <summary>
/// <c>/health/ready</c> answers 200 only once the node can serve as it should: the engine's state restored from the store
/// and the bundled models loaded. Work may be moved past readiness to start faster (ingest's warm-up is), never these.
/// </summary>
public sealed class ReadinessTests
{
    private const int SignalStageRestoredEventId = 4900; // EngineStateLoader
    private const int ModelLoadedEventId = 2100; // ModelRegistry, once per model
    private const int ModelSetSwappedEventId = 2103; // ModelRegistry, once the folder is loaded
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task ReadyAnswersOnlyOnceTheEngineStateIsRestoredAndTheModelsAreLoaded()
    {
        var data = Directory.CreateTempSubdirectory("signalstream-ready-").FullName;
        var port = LoopbackPort.Free();
        using var logs = new CapturingLoggerProvider();
        var restoring = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var loadingModels = new GatedLogEvent(ModelLoadedEventId);
        var app = SignalStreamHost.Build(
            [$"--urls=http://127.0.0.1:{port}", $"--Storage:File:Path={data}", "--Node:Roles=all", "--Ingest:Source=simulated"],
            builder =>
            {
                builder.Logging.ClearProviders();
                builder.Logging.AddProvider(logs);
                builder.Logging.AddProvider(loadingModels);
                builder.Host.UseServiceProviderFactory(new GatedStoreFactory(restoring, release.Task));
            });
        try
        {
            var starting = app.StartAsync();
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };

            // The state loader is held inside its first read of the store: whatever answers meanwhile is not "ready".
            await restoring.Task.WaitAsync(Wait);
            await AssertNotReadyForAWhileAsync(http);
            Assert.DoesNotContain(logs.Entries, e => e.EventId == SignalStageRestoredEventId);
            release.SetResult();

            // The registry is held as it reports its first model loaded: still not "ready".
            await loadingModels.Reached.WaitAsync(Wait);
            await AssertNotReadyForAWhileAsync(http);
            Assert.DoesNotContain(logs.Entries, e => e.EventId == ModelSetSwappedEventId);
            loadingModels.Release();

            using var deadline = new CancellationTokenSource(Wait);
            while (await ReadyStatusAsync(http) != HttpStatusCode.OK)
            {
                await Task.Delay(10, deadline.Token);
            }

            // At the first "ready": the signal stage restored, and the bundled models serving.
            Assert.Contains(logs.Entries, e => e.EventId == SignalStageRestoredEventId);
            var swapped = Assert.Single(logs.Entries, e => e.EventId == ModelSetSwappedEventId);
            Assert.Contains("3 serving", swapped.Message, StringComparison.Ordinal);
            var models = await http.GetFromJsonAsync<JsonElement>("/api/models").WaitAsync(Wait);
            Assert.Equal(3, models.EnumerateArray().Count());

            // The bundled LSTMs are recurrent (their chain in the listing), the PatchTST windowed (none).
            var chains = models.EnumerateArray().ToDictionary(
                m => m.GetProperty("name").GetString()!,
                m => m.TryGetProperty("recurrence", out var r) && r.ValueKind == JsonValueKind.Object ? r.GetProperty("chain").GetInt32() : 0);
            Assert.Equal(32, chains["lstm-direction"]);
            Assert.Equal(32, chains["lstm-shadow"]);
            Assert.Equal(0, chains["patchtst-direction"]);
            await starting.WaitAsync(Wait);
        }
        finally
        {
            release.TrySetResult();
            loadingModels.Release();
            await app.StopAsync().WaitAsync(Wait);
            await app.DisposeAsync();
            Directory.Delete(data, recursive: true);
        }
    }

    /// <summary>Probes readiness 50 times over about a second: a window for a start that wrongly went on to show up in.</summary>
    private static async Task AssertNotReadyForAWhileAsync(HttpClient http)
    {
        for (var probe = 0; probe < 50; probe++)
        {
            Assert.NotEqual(HttpStatusCode.OK, await ReadyStatusAsync(http));
            await Task.Delay(20);
        }
    }

    private static async Task<HttpStatusCode?> ReadyStatusAsync(HttpClient http)
    {
        try
        {
            using var response = await http.GetAsync(new Uri("/health/ready", UriKind.Relative));
            return response.StatusCode;
        }
        catch (HttpRequestException)
        {
            return null; // not listening yet
        }
    }

    /// <summary>Wraps the node's event store so that reads wait for the test to let them through.</summary>
    private sealed class GatedStoreFactory(TaskCompletionSource restoring, Task release) : IServiceProviderFactory<IServiceCollection>
    {
        public IServiceCollection CreateBuilder(IServiceCollection services)
        {
            var store = services.Last(d => d.ServiceType == typeof(IEventStore));
            services.Remove(store);
            services.AddSingleton<IEventStore>(sp => new GatedStore((IEventStore)store.ImplementationFactory!(sp), restoring, release));
            return services;
        }

        public IServiceProvider CreateServiceProvider(IServiceCollection containerBuilder) => containerBuilder.BuildServiceProvider();
    }

    private sealed class GatedStore(IEventStore inner, TaskCompletionSource restoring, Task release) : IEventStore
    {
        public ValueTask InitializeAsync(CancellationToken cancellationToken = default) => inner.InitializeAsync(cancellationToken);

        public ValueTask<AppendResult> AppendAsync(IReadOnlyList<StreamAppend> group, CancellationToken cancellationToken = default) =>
            inner.AppendAsync(group, cancellationToken);

        public async ValueTask<IReadOnlyList<StoredEvent>> ReadStreamAsync(string streamId, long fromVersion, int maxCount, CancellationToken cancellationToken = default)
        {
            await GateAsync(cancellationToken);
            return await inner.ReadStreamAsync(streamId, fromVersion, maxCount, cancellationToken);
        }

        public async ValueTask<IReadOnlyList<StoredEvent>> ReadStreamBackwardAsync(string streamId, int maxCount, CancellationToken cancellationToken = default)
        {
            await GateAsync(cancellationToken);
            return await inner.ReadStreamBackwardAsync(streamId, maxCount, cancellationToken);
        }

        public ValueTask<long> GetStreamVersionAsync(string streamId, CancellationToken cancellationToken = default) =>
            inner.GetStreamVersionAsync(streamId, cancellationToken);

        public ValueTask<long> GetLastPositionAsync(CancellationToken cancellationToken = default) => inner.GetLastPositionAsync(cancellationToken);

        public IGlobalEventReader OpenGlobalReader(long afterPosition, IReadOnlyCollection<string>? dataOf = null) =>
            inner.OpenGlobalReader(afterPosition, dataOf);

        public void ReleaseUpTo(long position) => inner.ReleaseUpTo(position);

        private async Task GateAsync(CancellationToken cancellationToken)
        {
            restoring.TrySetResult();
            await release.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Holds whichever thread logs the event until the test releases it (at most <see cref="Wait"/>).</summary>
    private sealed class GatedLogEvent(int eventId) : ILoggerProvider, ILogger
    {
        private readonly ManualResetEventSlim _open = new();
        private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Reached => _reached.Task;

        public void Release() => _open.Set();

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId id, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (id.Id == eventId)
            {
                _reached.TrySetResult();
                _open.Wait(Wait);
            }
        }

        public void Dispose() => _open.Dispose();
    }
}
