using DeepTrain.Backends;
using DeepTrain.Memory;

namespace DeepTrain.Optim;

/// <summary>
/// An optimizer by name and its hyper-parameters, as a configuration file or command line gives them; see
/// <see cref="OptimizerFactory.Create"/>. The defaults are the CLI's: SGD, rate 0.1, momentum 0.9, L2 decay 5e-4. The rate
/// suits the batch-normalised ResNets; each built-in model has its own, <see cref="Zoo.ModelInfo.Training"/> (LeNet-5: 0.01).
/// </summary>
/// <param name="Name">One of <see cref="OptimizerFactory.Names"/>: sgd (momentum, L2 decay), adam (L2 decay), adamw (decoupled decay), adagrad, rmsprop (L2 decay).</param>
/// <param name="LearningRate">The rate (the peak rate under one-cycle).</param>
/// <param name="Momentum">SGD's or RMSprop's momentum, Adam's β1; in [0, 1).</param>
/// <param name="WeightDecay">λ: an L2 term λ/2·‖w‖² in the loss, decoupled for adamw; conv and linear weights only.</param>
/// <param name="Nesterov">Nesterov momentum (SGD).</param>
/// <param name="MomentumForm">SGD's momentum as PyTorch or Caffe writes it.</param>
/// <param name="L1">λ1 of a <see cref="WeightPenalty"/> under any optimizer (0: none).</param>
/// <param name="L2">λ2 of a <see cref="WeightPenalty"/> under any optimizer (0: none).</param>
public sealed record OptimizerOptions(string Name = "sgd", float LearningRate = 0.1f, float Momentum = 0.9f, float WeightDecay = 5e-4f,
    bool Nesterov = false, SgdMomentumForm MomentumForm = SgdMomentumForm.PyTorch, float L1 = 0f, float L2 = 0f)
{
    /// <summary>Checks every value, naming the property and its valid range.</summary>
    /// <exception cref="ArgumentException">A name that is not one of <see cref="OptimizerFactory.Names"/>, or a value out of range.</exception>
    public void Validate()
    {
        if (!OptimizerFactory.Names.Contains(Name))
            throw new ArgumentException($"unknown optimizer '{Name}' (OptimizerOptions.Name); expected one of {string.Join(", ", OptimizerFactory.Names)}", nameof(Name));
        if (!(LearningRate > 0) || float.IsInfinity(LearningRate))
            throw new ArgumentOutOfRangeException(nameof(LearningRate), $"OptimizerOptions.LearningRate must be a finite number > 0, got {LearningRate}");
        if (!(Momentum >= 0 && Momentum < 1))
            throw new ArgumentOutOfRangeException(nameof(Momentum), $"OptimizerOptions.Momentum must be in [0, 1) (SGD's or RMSprop's momentum, Adam's β1), got {Momentum}");
        if (!(WeightDecay >= 0) || float.IsInfinity(WeightDecay))
            throw new ArgumentOutOfRangeException(nameof(WeightDecay), $"OptimizerOptions.WeightDecay must be a finite number ≥ 0, got {WeightDecay}");
        foreach (var (name, value) in new[] { (nameof(L1), L1), (nameof(L2), L2) })
            if (!(value >= 0) || float.IsInfinity(value))
                throw new ArgumentOutOfRangeException(name, $"OptimizerOptions.{name} must be a finite number ≥ 0, got {value}");
    }
}

/// <summary>Builds optimizers from <see cref="OptimizerOptions"/>: the one place a name becomes an optimizer, for the CLI and library users alike.</summary>
public static class OptimizerFactory
{
    /// <summary>The optimizer names <see cref="Create"/> knows, simple to complex.</summary>
    public static IReadOnlyList<string> Names { get; } = ["sgd", "adam", "adamw", "adagrad", "rmsprop"];

    /// <summary>The optimizer <paramref name="options"/> names over <paramref name="parameters"/>, with its weight penalty when L1 or L2 is set.</summary>
    /// <exception cref="ArgumentNullException">options or parameters is null.</exception>
    /// <exception cref="ArgumentException">An unknown name or a value out of range (see <see cref="OptimizerOptions.Validate"/>).</exception>
    public static Optimizer Create(OptimizerOptions options, ParameterSet parameters)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(parameters);
        options.Validate();
        var o = options;
        Optimizer opt = o.Name switch
        {
            "adam" => new Adam(parameters, o.LearningRate, beta1: o.Momentum, weightDecay: o.WeightDecay),
            "adamw" => new AdamW(parameters, o.LearningRate, beta1: o.Momentum, weightDecay: o.WeightDecay),
            "adagrad" => new Adagrad(parameters, o.LearningRate, weightDecay: o.WeightDecay),
            "rmsprop" => new RMSprop(parameters, o.LearningRate, weightDecay: o.WeightDecay, momentum: o.Momentum),
            _ => new SGD(parameters, o.LearningRate, o.Momentum, o.WeightDecay, nesterov: o.Nesterov, form: o.MomentumForm),
        };
        if (o.L1 > 0 || o.L2 > 0) opt.Penalty = new WeightPenalty(o.L1, o.L2);
        return opt;
    }
}
