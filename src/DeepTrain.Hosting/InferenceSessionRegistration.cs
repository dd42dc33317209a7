using DeepTrain.Inference;
using DeepTrain.Training;

namespace DeepTrain.Hosting;

/// <summary>What one registered session loads and how it runs (a named option: <c>IOptionsMonitor&lt;InferenceSessionRegistration&gt;.Get(name)</c>).</summary>
public sealed class InferenceSessionRegistration
{
    /// <summary>The checkpoint (<c>model.safetensors</c>) to serve.</summary>
    public string? CheckpointPath { get; set; }
    /// <summary>The session's options (device, batch sizes, concurrency, dynamic batching).</summary>
    public InferenceSessionOptions Session { get; set; } = new();
    /// <summary>Values for fields an older checkpoint does not record; null: none.</summary>
    public CheckpointLoadOptions? LoadOptions { get; set; }
}
