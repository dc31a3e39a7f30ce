using SignalStream.Engine.Inference.Onnx;

namespace SignalStream.Engine.Inference;

/// <summary>The <c>Inference</c> configuration section (plus <c>Models:Path</c>), validated at start.</summary>
public sealed class InferenceOptions
{
    public const string SectionName = "Inference";

    /// <summary>Folder of <c>*.manifest.json</c> files (configuration key <c>Models:Path</c>); relative to the content root.</summary>
    public string ModelsPath { get; set; } = "models";

    /// <summary>Where ONNX Runtime runs the models: <c>cpu</c> (default), <c>cuda</c> (needs the GPU package), <c>directml</c> (Windows).</summary>
    public string ExecutionProvider { get; set; } = "cpu";

    /// <summary>The GPU to use with <c>cuda</c> or <c>directml</c> (ignored on the CPU).</summary>
    public int DeviceId { get; set; }

    /// <summary>Threads one ONNX Run may use. 1 keeps each model's batch on its worker thread (measured best on 2 cores).</summary>
    public int IntraOpThreads { get; set; } = 1;

    /// <summary>Whether ORT's idle intra-op threads spin between runs (only with IntraOpThreads above 1): lower wake-up
    /// latency for a core kept busy. Off by default: on a shared machine the spinning costs more than it saves.</summary>
    public bool IntraOpSpinning { get; set; }

    /// <summary>
    /// Threads that run each live model's batches (Triton's instance count). Above 1, a burst's full batches of one model
    /// run on several cores at once; shadow models keep one, since nothing waits for them.
    /// </summary>
    /// <remarks>The default is chosen by measurement; see docs/inference.md.</remarks>
    public int WorkersPerLiveModel { get; set; } = 1;

    /// <summary>Requests per ONNX Run at most (Triton's max_batch_size).</summary>
    /// <remarks>
    /// The default is chosen by measurement (docs/inference.md, "Dynamic batcher"): in a closing bell smaller batches let
    /// the first decisions, commits and sends overlap the rest of the inference.
    /// </remarks>
    public int MaxBatchSize { get; set; } = 128;

    /// <summary>How long the oldest request of a partial batch may wait for more (Triton's max_queue_delay_microseconds).</summary>
    /// <remarks>The default is chosen by measurement; see docs/inference.md.</remarks>
    public int MaxQueueDelayMicroseconds { get; set; } = 500;

    /// <summary>Requests that may queue per model before the engine pipeline waits (back-pressure).</summary>
    public int QueueCapacity { get; set; } = 4096;

    /// <summary>Seconds between full rescans of the models folder (a fallback for missed file-system events).</summary>
    public int RescanSeconds { get; set; } = 30;

    /// <summary>Quiet time after the last file change before reloading, so a half-copied model is not loaded.</summary>
    public int ReloadDebounceMilliseconds { get; set; } = 500;

    /// <summary>Seconds between progress summaries in the log (candles, predictions, batches); 0 turns them off.</summary>
    public int SummarySeconds { get; set; } = 60;

    /// <summary>The session settings these options give (call after <see cref="Validate"/> found nothing).</summary>
    internal OnnxSessionSettings SessionSettings
    {
        get
        {
            if (!OnnxProviders.TryParse(ExecutionProvider, out var provider))
            {
                throw new InvalidOperationException($"Inference:ExecutionProvider '{ExecutionProvider}' was not validated: read SessionSettings after Validate.");
            }

            return new OnnxSessionSettings(IntraOpThreads, provider, DeviceId, IntraOpSpinning);
        }
    }

    /// <summary>Problems a person can fix, one message each; empty when valid.</summary>
    public IEnumerable<string> Validate()
    {
        if (string.IsNullOrWhiteSpace(ModelsPath))
        {
            yield return "Models:Path is empty; set it to the folder holding the *.manifest.json files (default 'models').";
        }

        if (!OnnxProviders.TryParse(ExecutionProvider, out _))
        {
            yield return $"Inference:ExecutionProvider is '{ExecutionProvider}'; use {string.Join(", ", OnnxProviders.Names)} (default cpu).";
        }

        if (DeviceId is < 0 or > 255)
        {
            yield return $"Inference:DeviceId is {DeviceId}; use the GPU's index, 0 to 255 (default 0).";
        }

        if (IntraOpThreads is < 1 or > 64)
        {
            yield return $"Inference:IntraOpThreads is {IntraOpThreads}; use 1 to 64 (1 is the default and best on small machines).";
        }

        if (WorkersPerLiveModel is < 1 or > 16)
        {
            yield return $"Inference:WorkersPerLiveModel is {WorkersPerLiveModel}; use 1 to 16 (at most the cores the models may use; default 1).";
        }

        if (MaxBatchSize is < 1 or > 8192)
        {
            yield return $"Inference:MaxBatchSize is {MaxBatchSize}; use 1 to 8192 (default 128).";
        }

        if (MaxQueueDelayMicroseconds is < 0 or > 10_000_000)
        {
            yield return $"Inference:MaxQueueDelayMicroseconds is {MaxQueueDelayMicroseconds}; use 0 to 10000000 (default 500).";
        }

        if (QueueCapacity < MaxBatchSize)
        {
            yield return $"Inference:QueueCapacity ({QueueCapacity}) is below Inference:MaxBatchSize ({MaxBatchSize}); raise it to at least the batch size.";
        }

        if (RescanSeconds < 1)
        {
            yield return $"Inference:RescanSeconds is {RescanSeconds}; use 1 or more (default 30).";
        }

        if (ReloadDebounceMilliseconds < 0)
        {
            yield return $"Inference:ReloadDebounceMilliseconds is {ReloadDebounceMilliseconds}; use 0 or more (default 500).";
        }

        if (SummarySeconds < 0)
        {
            yield return $"Inference:SummarySeconds is {SummarySeconds}; use 0 (off) or more (default 60).";
        }
    }
}
