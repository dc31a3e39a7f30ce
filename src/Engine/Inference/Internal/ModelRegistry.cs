using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SignalStream.Contracts;

namespace SignalStream.Engine.Inference.Internal;

/// <summary>
/// Loads every <c>*.manifest.json</c> under <c>Models:Path</c>, validates each, and publishes an immutable
/// <see cref="ModelSet"/>. A bad model is reported (log, metric, <c>/api/models</c>) and skipped; the others serve.
/// Reloads when files change (watcher + debounce, and a periodic rescan) and swaps the set atomically: requests
/// already queued finish on the old session, which is released after its last batch.
/// </summary>
internal sealed partial class ModelRegistry : IModelCatalog, IHostedService, IAsyncDisposable
{
    private readonly InferenceOptions _options;
    private readonly ModelLoader _loader;
    private readonly InferenceMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<ModelRegistry> _logger;
    private readonly Lock _reloadLock = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<LoadedModel> _retired = [];
    private ModelSet _current = ModelSet.Empty;
    private FileSystemWatcher? _watcher;
    private ITimer? _debounce;
    private Task _rescanLoop = Task.CompletedTask;

    public ModelRegistry(InferenceOptions options, string modelsFolder, ModelLoader loader, InferenceMetrics metrics, TimeProvider time, ILogger<ModelRegistry> logger)
    {
        _options = options;
        Folder = modelsFolder;
        _loader = loader;
        _metrics = metrics;
        _time = time;
        _logger = logger;
    }

    /// <summary>The resolved models folder.</summary>
    public string Folder { get; }

    /// <summary>The published snapshot; read it once per use.</summary>
    public ModelSet Current => Volatile.Read(ref _current);

    /// <summary>Raised after every swap (tests and the pipeline's log use it).</summary>
    public event Action<ModelSet>? Swapped;

    public IReadOnlyList<ModelInfo> GetModels() => Current.Infos;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        Log.RuntimeReady(_logger, Onnx.OnnxProviders.RuntimeVersion ?? "(not loadable)", _options.ExecutionProvider, _options.IntraOpThreads);
        Reload();
        if (Directory.Exists(Folder))
        {
            try
            {
                _watcher = new FileSystemWatcher(Folder) { IncludeSubdirectories = false, NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size };
                _watcher.Changed += OnFolderChanged;
                _watcher.Created += OnFolderChanged;
                _watcher.Deleted += OnFolderChanged;
                _watcher.Renamed += OnFolderChanged;
                _watcher.EnableRaisingEvents = true;
            }
            catch (IOException ex)
            {
                // inotify limits can refuse a watcher; the periodic rescan still picks changes up.
                Log.WatcherUnavailable(_logger, Folder, ex);
            }
        }

        _debounce = _time.CreateTimer(static s => ((ModelRegistry)s!).ReloadFromTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _rescanLoop = RescanLoopAsync(_stopping.Token);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _watcher?.Dispose();
        _debounce?.Dispose();
        await _rescanLoop.ConfigureAwait(false);
        Task[] completions;
        lock (_reloadLock)
        {
            var last = Interlocked.Exchange(ref _current, ModelSet.Empty);
            foreach (var model in last.Models)
            {
                model.Retire();
                _retired.Add(model);
            }

            completions = _retired.Select(m => m.Batcher.Completion).ToArray();
        }

        // Batches in flight finish; then every session is released.
        await Task.WhenAll(completions).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stopping.IsCancellationRequested)
        {
            await StopAsync(CancellationToken.None).ConfigureAwait(false);
        }

        _stopping.Dispose();
    }

    /// <summary>Rescans the folder: loads new or changed manifests, keeps unchanged ones, retires removed or replaced ones.</summary>
    public void Reload()
    {
        lock (_reloadLock)
        {
            var previous = Current;
            var byPath = previous.Entries.ToDictionary(e => e.ManifestPath, StringComparer.Ordinal);
            var entries = new List<ModelSet.Entry>();
            var files = Directory.Exists(Folder)
                ? Directory.GetFiles(Folder, "*.manifest.json").Order(StringComparer.Ordinal).ToArray()
                : [];
            if (files.Length == 0)
            {
                Log.NoModels(_logger, Folder);
            }

            var changed = false;
            foreach (var path in files)
            {
                var fingerprint = Fingerprint(path);
                if (byPath.TryGetValue(path, out var existing) && existing.Fingerprint == fingerprint)
                {
                    entries.Add(existing);
                    continue;
                }

                changed = true;
                var result = _loader.Load(path);
                if (result.Model is { } model)
                {
#pragma warning disable CA1873 // once per model (re)load, not per candle: the join is not worth a guard
                    Log.ModelLoaded(_logger, model.Name, model.Version, model.Family, model.IsShadow ? "shadow" : "active", model.Window,
                        model.FeatureIndices.Length, string.Join(",", model.Timeframes.Select(t => t.ToName())));
#pragma warning restore CA1873
                }
                else
                {
                    Log.ModelFailed(_logger, result.Info.Name, Path.GetFileName(path), result.Info.Error ?? "unknown error");
                }

                entries.Add(new ModelSet.Entry(path, fingerprint, result.Model, result.Info));
            }

            var duplicate = entries.Where(e => e.Model is not null).GroupBy(e => e.Model!.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
            if (duplicate is not null)
            {
                Log.DuplicateModelName(_logger, duplicate.Key, string.Join(", ", duplicate.Select(e => Path.GetFileName(e.ManifestPath))));
            }

            if (!changed && entries.Count == previous.Entries.Count)
            {
                return;
            }

            var next = new ModelSet(entries);
            Volatile.Write(ref _current, next);
            _metrics.LoadedModels = next.Models.Length;
            var kept = new HashSet<LoadedModel>(next.Models);
            foreach (var old in previous.Models)
            {
                if (!kept.Contains(old))
                {
                    old.Retire();
                    _retired.Add(old);
                }
            }

            _retired.RemoveAll(m => m.Batcher.Completion.IsCompleted);
            Log.Swapped(_logger, next.Models.Length, next.Infos.Count - next.Models.Length);
            Swapped?.Invoke(next);
        }
    }

    private static string Fingerprint(string manifestPath)
    {
        // The manifest's stamp covers edits to it; the stamp of the model file it names covers a re-export in place.
        var manifest = new FileInfo(manifestPath);
        var text = $"{manifest.Length}:{manifest.LastWriteTimeUtc.Ticks}";
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(manifestPath));
            if (doc.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object &&
                doc.RootElement.TryGetProperty("file", out var file) && file.ValueKind == System.Text.Json.JsonValueKind.String)
            {
                var model = new FileInfo(Path.Combine(manifest.DirectoryName!, file.GetString()!));
                text += model.Exists ? $"|{model.Length}:{model.LastWriteTimeUtc.Ticks}" : "|missing";
            }
        }
        catch (Exception ex) when (ex is IOException or System.Text.Json.JsonException or ArgumentException)
        {
            // An unreadable manifest is reported by the loader; its own stamp is fingerprint enough.
        }

        return text;
    }

    private void OnFolderChanged(object sender, FileSystemEventArgs e) =>
        _debounce?.Change(TimeSpan.FromMilliseconds(_options.ReloadDebounceMilliseconds), Timeout.InfiniteTimeSpan);

    private void ReloadFromTimer()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        try
        {
            Reload();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Log.ReloadFailed(_logger, Folder, ex);
        }
    }

    private async Task RescanLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(_options.RescanSeconds), _time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                ReloadFromTimer();
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2100, Level = LogLevel.Information, Message = "Model {Model} {Version} loaded ({Family}, {Status}, window {Window}, {Features} features, timeframes {Timeframes})")]
        public static partial void ModelLoaded(ILogger logger, string model, string version, string family, string status, int window, int features, string timeframes);

        [LoggerMessage(EventId = 2101, Level = LogLevel.Error, Message = "Model {Model} ({Manifest}) cannot serve: {Problem}. The other models keep serving; fix the files and the registry reloads them.")]
        public static partial void ModelFailed(ILogger logger, string model, string manifest, string problem);

        [LoggerMessage(EventId = 2102, Level = LogLevel.Warning, Message = "No *.manifest.json in models folder {Folder}; the engine runs without predictions until models appear (set Models:Path)")]
        public static partial void NoModels(ILogger logger, string folder);

        [LoggerMessage(EventId = 2103, Level = LogLevel.Information, Message = "Model set swapped: {Loaded} serving, {Failed} failed")]
        public static partial void Swapped(ILogger logger, int loaded, int failed);

        [LoggerMessage(EventId = 2104, Level = LogLevel.Warning, Message = "Cannot watch models folder {Folder}; relying on the periodic rescan")]
        public static partial void WatcherUnavailable(ILogger logger, string folder, Exception exception);

        [LoggerMessage(EventId = 2105, Level = LogLevel.Error, Message = "Reloading models from {Folder} failed; keeping the current set")]
        public static partial void ReloadFailed(ILogger logger, string folder, Exception exception);

        [LoggerMessage(EventId = 2107, Level = LogLevel.Information, Message = "ONNX Runtime {Version}, execution provider {Provider}, {Threads} intra-op thread(s) per run")]
        public static partial void RuntimeReady(ILogger logger, string version, string provider, int threads);

        [LoggerMessage(EventId = 2106, Level = LogLevel.Warning, Message = "Model name {Model} is declared by several manifests ({Manifests}); each serves and votes separately")]
        public static partial void DuplicateModelName(ILogger logger, string model, string manifests);
    }
}
