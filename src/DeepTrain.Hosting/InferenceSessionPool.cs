using System.Collections.Concurrent;
using DeepTrain.Inference;
using Microsoft.Extensions.Options;

namespace DeepTrain.Hosting;

/// <summary>
/// The registered inference sessions by name (<see cref="DeepTrainInferenceBuilder.FromCheckpoint(string, string, Action{InferenceSessionRegistration}?)"/>),
/// each loaded on first use and shared by every caller: an <see cref="InferenceSession"/> is thread-safe. Registered as a singleton;
/// the container disposes it, and it disposes every session it loaded. Thread-safe.
/// </summary>
public sealed class InferenceSessionPool : IDisposable
{
    private readonly IOptionsMonitor<InferenceSessionRegistration> _registrations;
    private readonly ConcurrentDictionary<string, Lazy<InferenceSession>> _sessions = new();
    private readonly HashSet<string> _names;
    private bool _disposed;

    /// <summary>Made by the container.</summary>
    public InferenceSessionPool(IOptionsMonitor<InferenceSessionRegistration> registrations, RegisteredSessionNames names)
    {
        ArgumentNullException.ThrowIfNull(registrations);
        ArgumentNullException.ThrowIfNull(names);
        (_registrations, _names) = (registrations, names.Names);
    }

    /// <summary>The registered names ("" is the unnamed session).</summary>
    public IReadOnlyCollection<string> Names => _names;

    /// <summary>The session registered as <paramref name="name"/> ("" or omitted: the unnamed one), loaded on first call.</summary>
    /// <exception cref="ArgumentException">No session is registered under that name, or its registration has no checkpoint path.</exception>
    /// <exception cref="ObjectDisposedException">The pool is disposed.</exception>
    /// <remarks>Loading failures (a missing file, a checkpoint that does not describe its model) propagate from <see cref="InferenceSession.Load"/>, and the next call tries again.</remarks>
    public InferenceSession GetSession(string name = "")
    {
        ArgumentNullException.ThrowIfNull(name);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_names.Contains(name))
            throw new ArgumentException($"no DeepTrain inference session is registered as '{name}'; registered: {string.Join(", ", _names.Select(n => $"'{n}'"))}", nameof(name));
        var lazy = _sessions.GetOrAdd(name, n => new Lazy<InferenceSession>(() => Load(n)));
        try { return lazy.Value; }
        catch
        {
            _sessions.TryRemove(new KeyValuePair<string, Lazy<InferenceSession>>(name, lazy));
            throw;
        }
    }

    private InferenceSession Load(string name)
    {
        var r = _registrations.Get(name);
        if (string.IsNullOrEmpty(r.CheckpointPath))
            throw new ArgumentException($"the DeepTrain inference session '{name}' has no InferenceSessionRegistration.CheckpointPath; expected the path of a model.safetensors", nameof(name));
        return InferenceSession.Load(r.CheckpointPath, r.Session, r.LoadOptions);
    }

    /// <summary>Disposes every loaded session. Call once, after the last request.</summary>
    public void Dispose()
    {
        _disposed = true;
        foreach (var lazy in _sessions.Values)
            if (lazy.IsValueCreated) lazy.Value.Dispose();
        _sessions.Clear();
    }
}

/// <summary>The names registered with <see cref="DeepTrainInferenceBuilder"/> (a singleton the builder fills).</summary>
public sealed class RegisteredSessionNames
{
    internal HashSet<string> Names { get; } = new(StringComparer.Ordinal);
}
