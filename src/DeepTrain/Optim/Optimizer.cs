using DeepTrain.Memory;
using DeepTrain.Mixed;
using DeepTrain.Tensors;

namespace DeepTrain.Optim;

/// <summary>
/// Updates a model's flat parameter buffer from its flat gradient buffer. Optimizers run one fused
/// backend call per decay group (see <see cref="ParameterSet.Groups"/>), never one call per tensor.
/// Subclasses are ordered simple to complex: SGD, then the adaptive methods.
/// </summary>
public abstract class Optimizer : IDisposable
{
    /// <summary>Creates an optimizer over <paramref name="parameters"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The learning rate is negative or not finite.</exception>
    protected Optimizer(ParameterSet parameters, float learningRate)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        Parameters = parameters;
        LearningRate = learningRate;
    }

    private float _lr;

    /// <summary>The parameters updated.</summary>
    public ParameterSet Parameters { get; }

    /// <summary>Learning rate of the next step (a schedule sets it before each step).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative or not finite.</exception>
    public float LearningRate
    {
        get => _lr;
        set
        {
            if (!(value >= 0) || float.IsInfinity(value)) throw new ArgumentOutOfRangeException(nameof(LearningRate), value, "learning rate must be finite and ≥ 0");
            _lr = value;
        }
    }

    /// <summary>Momentum (β1 for Adam) of the next step, where the optimizer has one; a schedule may cycle it.</summary>
    public virtual float Momentum { get; set; }

    /// <summary>Steps taken.</summary>
    public long Steps { get; protected set; }

    /// <summary>Bytes of optimizer state on the device.</summary>
    public abstract long StateBytes { get; }

    /// <summary>Named state tensors, for checkpoints ("momentum_buffer").</summary>
    public abstract IReadOnlyList<(string Name, Tensor Value)> State { get; }

    /// <summary>
    /// An L1/L2/elastic-net penalty whose gradient is added to the gradients before each update (null: none).
    /// It is part of the objective, not of the optimizer's rule, so it works the same under every optimizer.
    /// </summary>
    public WeightPenalty? Penalty { get; set; }

    /// <summary>
    /// Applies one update from the current gradients: first the <see cref="Penalty"/>'s gradient, then the
    /// optimizer's own rule (<see cref="Update"/>). The gradients are left modified by the penalty.
    /// </summary>
    public void Step()
    {
        Steps++;
        Penalty?.AddGradient(Parameters);
        Update();
    }

    /// <summary>The optimizer's update rule for step <see cref="Steps"/> (already incremented; counts from 1).</summary>
    protected abstract void Update();

    /// <summary>
    /// True when this optimizer's steps honour a loss scaler's found-inf flag (they change nothing when it is set)
    /// and take the bias-correction step count from the scaler's state: SGD, Adam and AdamW, whose fused kernels do.
    /// </summary>
    public virtual bool HonoursLossScaler => false;

    private LossScaler? _scaler;

    /// <summary>
    /// The loss scaler whose found-inf flag and step count the next steps read on the device, or null. With a
    /// scaler, <see cref="Steps"/> counts every call and the scaler's step count the steps actually taken.
    /// </summary>
    /// <exception cref="NotSupportedException">This optimizer cannot skip a step on the device.</exception>
    public LossScaler? Scaler
    {
        get => _scaler;
        set
        {
            if (value is not null && !HonoursLossScaler)
                throw new NotSupportedException($"{GetType().Name} cannot skip a step on a non-finite gradient, which loss scaling needs; use SGD, Adam or AdamW, or turn loss scaling off (FitOptions.LossScaling = off, or FitOptions.Precision = bf16)");
            _scaler = value;
        }
    }

    /// <summary>Restores the step count (with <see cref="State"/> loaded, for resuming).</summary>
    public void RestoreSteps(long steps) => Steps = steps;

    /// <inheritdoc />
    public abstract void Dispose();
}
