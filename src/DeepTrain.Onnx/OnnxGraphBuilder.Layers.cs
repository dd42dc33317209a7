using DeepTrain.Inference;
using DeepTrain.Backends;
using DeepTrain.Layers;
using DeepTrain.Modeling;
using static DeepTrain.Onnx.OnnxGraphWriter;

namespace DeepTrain.Onnx;

/// <summary>One ONNX mapping per layer kind (operators as ONNX's Operators.md defines them at opset 17).</summary>
internal sealed partial class OnnxGraphBuilder
{
    /// <summary>The layer kinds the exporter maps, for the message that refuses another.</summary>
    public const string SupportedKinds = "Conv2d, BatchNorm2d, BatchNorm1d, ReLU, LeakyReLU, Sigmoid, Tanh, PReLU, MaxPool2d, AvgPool2d, "
        + "AdaptiveAvgPool2d (global), Add, Concat, Flatten, Linear, ShortcutA and Dropout (removed)";

    private void Emit(GraphNode n)
    {
        var layer = n.Layer;
        string[] ins = Array.ConvertAll(n.Inputs, Name);
        switch (layer)
        {
            case Conv2d conv: EmitConv(n, conv, ins[0]); break;
            case BatchNorm bn: EmitBatchNorm(n, bn, ins[0]); break;
            case ActivationLayer act: EmitActivation(n, act, ins[0]); break;
            case PReLU prelu: EmitPRelu(n, prelu, ins[0]); break;
            case Pool2d pool: EmitPool(n, pool, ins[0]); break;
            case GlobalAvgPool2d: _w.Node("GlobalAveragePool", layer.Name, ins, Define(n.Output, layer)); break;
            case Add: _w.Node("Add", layer.Name, ins, Define(n.Output, layer)); break;
            case Concat: _w.Node("Concat", layer.Name, ins, Define(n.Output, layer), Int("axis", 1)); break;
            case Flatten: _w.Node("Flatten", layer.Name, ins, Define(n.Output, layer), Int("axis", 1)); break;
            case Linear fc: EmitLinear(n, fc, ins[0]); break;
            case ShortcutA sc: EmitShortcutA(n, sc, ins[0]); break;
            case Dropout: _names[n.Output] = ins[0]; break;   // evaluation form: the identity
            default: throw Unsupported(layer, $"no ONNX mapping for this layer kind ({layer.GetType().FullName}); the exporter maps {SupportedKinds}");
        }
    }

    /// <summary>Conv (NCHW, OIHW weights); with the batch norm after it folded in when <see cref="FoldableBatchNorm"/> finds one.</summary>
    private void EmitConv(GraphNode n, Conv2d conv, string x)
    {
        var s = conv.Spec;
        float[] w = _weights.Param(conv, 0);
        float[] b = conv.HasBias ? _weights.Param(conv, 1) : [];
        string output;
        if (FoldableBatchNorm(n) is { } bnNode)
        {
            var bn = (BatchNorm)bnNode.Layer;
            var (scale, shift) = BatchNormFolding.Affine(_weights.Param(bn, 0), _weights.Param(bn, 1), _weights.Buffer(bn, 0), _weights.Buffer(bn, 1), bn.Eps);
            (w, b) = BatchNormFolding.IntoConv(w, b, scale, shift);
            _done.Add(bnNode);
            output = Define(bnNode.Output, bn);
        }
        else output = Define(n.Output, conv);
        long[] dims = [conv.OutChannels, conv.InChannels / s.Groups, conv.KernelH, conv.KernelW];
        var inputs = new List<string> { x, _w.Float(conv.Name + ".weight", w, dims) };
        if (b.Length > 0) inputs.Add(_w.Float(conv.Name + ".bias", b, conv.OutChannels));
        _w.Node("Conv", conv.Name, [.. inputs], output,
            Ints("kernel_shape", conv.KernelH, conv.KernelW), Ints("strides", s.StrideH, s.StrideW),
            Ints("pads", s.PadH, s.PadW, s.PadH, s.PadW), Ints("dilations", s.DilationH, s.DilationW), Int("group", s.Groups));
    }

    /// <summary>BatchNormalization in inference mode (training_mode 0): running mean and variance, ε as the layer's.</summary>
    private void EmitBatchNorm(GraphNode n, BatchNorm bn, string x)
    {
        string[] ins =
        [
            x, _w.Float(bn.Name + ".weight", _weights.Param(bn, 0), bn.Channels), _w.Float(bn.Name + ".bias", _weights.Param(bn, 1), bn.Channels),
            _w.Float(bn.Name + ".running_mean", _weights.Buffer(bn, 0), bn.Channels), _w.Float(bn.Name + ".running_var", _weights.Buffer(bn, 1), bn.Channels),
        ];
        _w.Node("BatchNormalization", bn.Name, ins, Define(n.Output, bn), Float("epsilon", (float)bn.Eps));
    }

    private void EmitActivation(GraphNode n, ActivationLayer act, string x)
    {
        string y = Define(n.Output, act);
        switch (act.Function)
        {
            case ActivationKind.Relu: _w.Node("Relu", act.Name, [x], y); break;
            case ActivationKind.LeakyRelu: _w.Node("LeakyRelu", act.Name, [x], y, Float("alpha", act.Alpha)); break;
            case ActivationKind.Sigmoid: _w.Node("Sigmoid", act.Name, [x], y); break;
            case ActivationKind.Tanh: _w.Node("Tanh", act.Name, [x], y); break;
            default: throw Unsupported(act, $"activation {act.Function} has no ONNX mapping");
        }
    }

    /// <summary>PRelu: one slope, or one per channel shaped (C, 1, …) so it broadcasts over (N, C, …).</summary>
    private void EmitPRelu(GraphNode n, PReLU prelu, string x)
    {
        int rank = _shapes[n.Inputs[0]].Rank;
        long[] dims = prelu.NumParameters == 1 ? [1] : [prelu.NumParameters, .. Enumerable.Repeat(1L, rank - 2)];
        _w.Node("PRelu", prelu.Name, [x, _w.Float(prelu.Name + ".weight", _weights.Param(prelu, 0), dims)], Define(n.Output, prelu));
    }

    /// <summary>MaxPool or AveragePool, floor mode (ceil_mode 0) as DeepTrain's pooling is.</summary>
    private void EmitPool(GraphNode n, Pool2d pool, string x)
    {
        var s = pool.Spec;
        var attrs = new List<Onnx.Proto.AttributeProto>
        {
            Ints("kernel_shape", s.KernelH, s.KernelW), Ints("strides", s.StrideH, s.StrideW), Ints("pads", s.PadH, s.PadW, s.PadH, s.PadW),
        };
        if (s.Mode != PoolMode.Max) attrs.Add(Int("count_include_pad", s.Mode == PoolMode.AverageIncludePad ? 1 : 0));
        _w.Node(s.Mode == PoolMode.Max ? "MaxPool" : "AveragePool", pool.Name, [x], Define(n.Output, pool), [.. attrs]);
    }

    /// <summary>Gemm(x, W, b) with transB = 1: y = x·Wᵀ + b, W stored (out, in) as torch.nn.Linear's.</summary>
    private void EmitLinear(GraphNode n, Linear fc, string x)
    {
        var inputs = new List<string> { x, _w.Float(fc.Name + ".weight", _weights.Param(fc, 0), fc.OutFeatures, fc.InFeatures) };
        if (fc.HasBias) inputs.Add(_w.Float(fc.Name + ".bias", _weights.Param(fc, 1), fc.OutFeatures));
        _w.Node("Gemm", fc.Name, [.. inputs], Define(n.Output, fc), Int("transB", 1));
    }

    /// <summary>
    /// Option A: x[:, :, ::s, ::s] as a Slice with steps (when s > 1), then the new channels as zeros on both sides as a
    /// constant Pad on axis 1: pads = [0, p, 0, 0, 0, p, 0, 0] (begins of N, C, H, W, then ends).
    /// </summary>
    private void EmitShortcutA(GraphNode n, ShortcutA sc, string x)
    {
        string sub = x;
        if (sc.Stride > 1)
        {
            sub = _w.Unique(sc.Name + ".subsample");
            _w.Node("Slice", sub, [x, _w.Int64(sc.Name + ".starts", [0, 0]), _w.Int64(sc.Name + ".ends", [long.MaxValue, long.MaxValue]),
                _w.Int64(sc.Name + ".axes", [2, 3]), _w.Int64(sc.Name + ".steps", [sc.Stride, sc.Stride])], sub);
        }
        long p = (sc.OutChannels - sc.InChannels) / 2;
        _w.Node("Pad", sc.Name, [sub, _w.Int64(sc.Name + ".pads", [0, p, 0, 0, 0, p, 0, 0])], Define(n.Output, sc), String("mode", "constant"));
    }
}
