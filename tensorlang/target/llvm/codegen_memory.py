"""Code generation of buffer accesses: address arithmetic, vector loads and stores,
gathers and scatters, masked loads, the alignment they may assume, and bounds checks.

A contiguous vector access (a stride-1 Ramp on the last dimension) becomes one vector
load or store.  A load with a small constant stride on the last dimension (a stride-2
pooling window, a strided convolution) reads the span it covers and picks its lanes with
a shuffle: it reads whole vectors at offsets that are multiples of the lane count from a
common anchor where the loop ranges prove them inside the row, so that neighbouring
accesses (the taps of a window) share their loads, and masked loads of just the lanes it
needs elsewhere.  Any other vector index is split into one scalar access per lane.
"""
from __future__ import annotations

import math

import llvmlite.ir as ir

from ...errors import InternalError
from ...tir import op as _op
from ...tir.analysis import loaded_buffers
from ...tir.arith import Analyzer
from ...tir.arith.int_set import is_neg_inf, is_pos_inf
from ...tir import expr as E
from ...tir.buffer import Buffer
from ...tir.datatype import DataType
from .buffers import (CTX_BUFFER, CTX_DIM, CTX_EXTENT, CTX_INDEX, STATUS_OK, STATUS_OUT_OF_BOUNDS,
                      BufferBinding, known_multiple)
from .types import I1, I32, I64, PTR, VOID, const_of, storage_type, value_type

#: largest constant stride, and widest span in elements, of a vector load read as one
#: wide load and a shuffle (beyond these a gather touches fewer cache lines)
MAX_SHUFFLE_STRIDE, MAX_SHUFFLE_SPAN = 4, 64

#: outputs at least this large (bytes) that the function only writes get streaming
#: stores: they would not stay in the last-level cache anyway (32 MiB here), and
#: bypassing it saves reading every line before overwriting it (a fifth of the memory
#: traffic of ``d = exp(a) * b + c``)
STREAMING_STORE_BYTES = 32 * 1024 * 1024


def _uniform_rows(indices) -> bool:
    """Whether every index but the last is the same in all lanes (one row is read)."""
    return all(i.dtype.lanes == 1 or isinstance(i, E.Broadcast) for i in indices[:-1])


def _split_constant(expr):
    """``(rest, c)`` with ``expr == rest + c`` for an integer constant ``c`` (``rest`` is
    None when ``expr`` is constant)."""
    if isinstance(expr, E.IntImm):
        return None, expr.value
    if isinstance(expr, (E.Add, E.Sub)) and isinstance(expr.b, E.IntImm):
        rest, c = _split_constant(expr.a)
        return rest, c + (expr.b.value if isinstance(expr, E.Add) else -expr.b.value)
    if isinstance(expr, E.Add) and isinstance(expr.a, E.IntImm):
        rest, c = _split_constant(expr.b)
        return rest, c + expr.a.value
    return expr, 0


def streaming_buffers(params, body) -> set:
    """Parameter buffers of constant size >= :data:`STREAMING_STORE_BYTES` that ``body``
    stores to but never loads from: their vector stores may bypass the caches."""
    loaded = loaded_buffers(body)
    chosen = set()
    for buf in params:
        if buf in loaded or buf.strides:
            continue
        if not all(isinstance(extent, E.IntImm) for extent in buf.shape):
            continue
        if math.prod(extent.value for extent in buf.shape) * buf.dtype.bytes >= \
                STREAMING_STORE_BYTES:
            chosen.add(buf)
    return chosen


class MemoryCodeGen:
    """Buffer-access half of the LLVM code generator (mixed into :class:`CodeGenLLVM`)."""

    builder: ir.IRBuilder
    buffers: dict
    mask: ir.Value | None
    bounds_check: bool
    module: ir.Module
    ctx_pointer: ir.Value
    #: Var -> known multiple (let-bound values), for alignment of vector accesses
    var_multiples: dict
    #: parameter buffers whose vector stores are non-temporal (see streaming_buffers)
    streaming_buffers: set
    #: Var -> Range of the loops around the code being generated, and the analyzer that
    #: proves strided loads' whole vectors inside their row from them
    loop_ranges: dict
    range_analyzer: Analyzer

    def binding(self, buffer: Buffer) -> BufferBinding:
        found = self.buffers.get(buffer)
        if found is None:
            raise InternalError(f"buffer '{buffer.name}' is accessed outside its allocation "
                                f"and is not a parameter")
        return found

    # -- addresses -------------------------------------------------------------------
    def _index64(self, value, dtype: DataType):
        target = I64 if dtype.lanes == 1 else ir.VectorType(I64, dtype.lanes)
        if value.type == target:
            return value
        return (self.builder.sext if dtype.is_int else self.builder.zext)(value, target)

    def _flat_offset(self, binding: BufferBinding, index_values: list, lanes: int):
        """Element offset (i64, or <lanes x i64>) of the given per-dimension indices."""
        b_ = self.builder
        offset = None
        for value, stride, const_stride in zip(index_values, binding.strides,
                                                binding.const_strides):
            if isinstance(value.type, ir.VectorType) is False and lanes > 1:
                value = self.broadcast(value, lanes)
            stride_value = stride if lanes == 1 else self.broadcast(stride, lanes)
            term = value if const_stride == 1 else b_.mul(value, stride_value, flags=("nsw",))
            offset = term if offset is None else b_.add(offset, term, flags=("nsw",))
        if offset is None:  # a zero-dimensional buffer
            offset = ir.Constant(I64, 0) if lanes == 1 else const_of(ir.VectorType(I64, lanes), 0)
        return offset

    def _element_pointer(self, binding: BufferBinding, offset, storage):
        return self.builder.gep(binding.pointer, [offset], inbounds=True, source_etype=storage)

    def _access_alignment(self, binding: BufferBinding, indices, lanes: int) -> int:
        """Bytes a vector access at ``indices`` may assume its address is aligned to."""
        elem = binding.buffer.dtype.bytes
        multiple = 0
        for index, stride in zip(indices, binding.const_strides):
            base = index.base if isinstance(index, E.Ramp) else index
            # an unknown stride keeps only the index's own factor
            term = known_multiple(base, self.var_multiples) * (stride or 1)
            multiple = math.gcd(multiple, term)
        byte_multiple = (multiple or (1 << 30)) * elem
        alignment = byte_multiple & -byte_multiple  # largest power of two dividing it
        # LLVM wants a power of two; a vector of, say, 10 floats is at most 32-byte aligned
        vector_bytes = 1 << ((elem * lanes).bit_length() - 1)
        return max(elem, min(alignment, binding.alignment, vector_bytes))

    def _contiguous(self, binding: BufferBinding, indices) -> bool:
        """Whether a vector index covers consecutive elements of the last dimension."""
        if not indices:
            return False
        last = indices[-1]
        if not (isinstance(last, E.Ramp) and isinstance(last.stride, E.IntImm)
                and last.stride.value == 1 and binding.const_strides[-1] == 1):
            return False
        return _uniform_rows(indices)

    def _shuffle_stride(self, binding: BufferBinding, indices, lanes: int) -> int:
        """The stride of a load that may read its span as one wide vector (see
        :data:`MAX_SHUFFLE_STRIDE`), or 0."""
        if not indices or binding.const_strides[-1] != 1:
            return 0
        if binding.buffer.dtype.bytes not in (4, 8):  # masked loads of narrow types
            return 0                                   # are not native everywhere
        last = indices[-1]
        if not (isinstance(last, E.Ramp) and isinstance(last.stride, E.IntImm)):
            return 0
        stride = last.stride.value
        if not 2 <= stride <= MAX_SHUFFLE_STRIDE or stride * lanes > MAX_SHUFFLE_SPAN:
            return 0
        if not _uniform_rows(indices):
            return 0
        return stride

    def _scalar_indices(self, indices) -> list:
        """Per-dimension registers of a contiguous access, taking the Ramp's base."""
        values = []
        for index in indices:
            if isinstance(index, E.Ramp):
                index = index.base
            elif isinstance(index, E.Broadcast):
                index = index.value
            values.append(self._index64(self.visit(index), index.dtype))
        return values

    def _vector_indices(self, indices, lanes: int) -> list:
        values = []
        for index in indices:
            value = self._index64(self.visit(index), index.dtype)
            values.append(value)
        return values

    # -- storage conversions -----------------------------------------------------------
    def _from_storage(self, value, dtype: DataType):
        if dtype.kind == "bool":
            # numpy treats any nonzero byte as True (a uint8 array viewed as bool)
            return self.builder.icmp_unsigned("!=", value, ir.Constant(value.type, None))
        if dtype.kind == "bfloat":
            int32 = I32 if dtype.lanes == 1 else ir.VectorType(I32, dtype.lanes)
            bits = self.builder.shl(self.builder.zext(value, int32), const_of(int32, 16))
            return self.builder.bitcast(bits, value_type(dtype))
        return value

    def _to_storage(self, value, dtype: DataType):
        if dtype.kind == "bool":
            return self.builder.zext(value, storage_type(dtype))
        if dtype.kind == "bfloat":
            int32 = I32 if dtype.lanes == 1 else ir.VectorType(I32, dtype.lanes)
            bits = self.builder.bitcast(self.round_bfloat(value, dtype), int32)
            return self.builder.trunc(self.builder.lshr(bits, const_of(int32, 16)),
                                      storage_type(dtype))
        return value

    # -- loads and stores --------------------------------------------------------------
    def visit_BufferLoad(self, node: E.BufferLoad):
        binding = self.binding(node.buffer)
        lanes = node.dtype.lanes
        elem_dtype = node.buffer.dtype
        storage = storage_type(elem_dtype)
        b_ = self.builder
        mask = self.mask if lanes > 1 else None
        if lanes == 1 or self._contiguous(binding, node.indices):
            values = self._scalar_indices(node.indices)
            offset = self._flat_offset(binding, values, 1)
            checks = self._bounds_checks(binding, node.indices, values, lanes, mask)

            def load():
                pointer = self._element_pointer(binding, offset, storage)
                if lanes == 1:
                    return b_.load(pointer, typ=storage, align=elem_dtype.bytes)
                vector = storage_type(node.dtype)
                align = self._access_alignment(binding, node.indices, lanes)
                if mask is None:
                    return b_.load(pointer, typ=vector, align=align)
                return self._masked_load(pointer, vector, align, mask)
            raw = self._guarded(checks, load, storage_type(node.dtype), binding)
            return self._from_storage(raw, node.dtype)
        stride = self._shuffle_stride(binding, node.indices, lanes)
        if stride:
            return self._from_storage(self._strided_load(node, binding, stride, mask),
                                      node.dtype)
        # a gather: one scalar load per lane (lanes masked off read element 0 instead)
        values = self._vector_indices(node.indices, lanes)
        offsets = self._flat_offset(binding, values, lanes)
        checks = self._bounds_checks(binding, node.indices, values, lanes, mask)

        def gather():
            result = ir.Constant(storage_type(node.dtype), ir.Undefined)
            for lane in range(lanes):
                lane_id = ir.Constant(I32, lane)
                offset = b_.extract_element(offsets, lane_id)
                if mask is not None:
                    active = b_.extract_element(mask, lane_id)
                    offset = b_.select(active, offset, ir.Constant(I64, 0))
                element = b_.load(self._element_pointer(binding, offset, storage),
                                  typ=storage, align=elem_dtype.bytes)
                result = b_.insert_element(result, element, lane_id)
            return result
        return self._from_storage(self._guarded(checks, gather, storage_type(node.dtype), binding),
                                  node.dtype)

    def _strided_load(self, node: E.BufferLoad, binding: BufferBinding, stride: int, mask):
        """Lanes ``base + stride * i`` (see the module's docstring)."""
        if mask is None:
            chunks = self._covering_chunks(node, binding, stride)
            if chunks is not None:
                return chunks
        return self._span_load(node, binding, stride, mask)

    def _covering_chunks(self, node: E.BufferLoad, binding: BufferBinding, stride: int):
        """The strided lanes shuffled out of contiguous vectors ("chunks") at ``anchor + j *
        lanes``, where ``anchor`` is the base less its constant rounded down to a multiple
        of ``lanes``: the same chunk of neighbouring accesses is the same load, which LLVM
        then reads once.  A chunk the loop ranges prove inside the row is read whole;
        another reads only the lanes it needs (a masked load).  None when no chunk can be
        read whole."""
        lanes = node.dtype.lanes
        last = node.indices[-1]
        rest, constant = _split_constant(last.base)
        first = constant - constant % lanes          # anchor = rest + first
        offset = constant % lanes                    # of lane 0 from the anchor
        span_end = offset + stride * (lanes - 1)     # of the last lane from the anchor
        count = span_end // lanes + 1
        index_type = last.base.dtype
        anchor = _op.const(first, index_type) if rest is None else \
            _op.add(rest, _op.const(first, index_type))
        analyzer = self.range_analyzer
        extent = node.buffer.shape[-1]

        def inside(start):
            low = analyzer.int_set(start, self.loop_ranges).min_value
            high = analyzer.int_set(_op.add(start, _op.const(lanes - 1, index_type)),
                                    self.loop_ranges).max_value
            return not (is_neg_inf(low) or is_pos_inf(high)) and \
                analyzer.can_prove(_op.ge(low, 0)) and analyzer.can_prove(_op.lt(high, extent))

        starts = [_op.add(anchor, _op.const(j * lanes, index_type)) for j in range(count)]
        whole = [inside(start) for start in starts]
        if not any(whole):
            return None
        b_ = self.builder
        vectors = []
        for j, start in enumerate(starts):
            if whole[j]:
                vectors.append(self._chunk(node, start, None))
                continue
            needed = [k for k in range(lanes) if offset <= j * lanes + k <= span_end
                      and (j * lanes + k - offset) % stride == 0]
            k0 = needed[0]
            mask = ir.Constant(ir.VectorType(I1, lanes),
                               [int(k0 + t in needed) for t in range(lanes)])
            part = self._chunk(node, _op.add(start, _op.const(k0, index_type)), mask)
            vectors.append(b_.shuffle_vector(part, ir.Constant(part.type, ir.Undefined),
                                             ir.Constant(ir.VectorType(I32, lanes),
                                                         [max(t - k0, 0) for t in range(lanes)])))
        # concatenate pairwise (a shuffle takes two operands of one type)
        while len(vectors) > 1:
            if len(vectors) % 2:
                vectors.append(ir.Constant(vectors[-1].type, ir.Undefined))
            vectors = [b_.shuffle_vector(vectors[i], vectors[i + 1], ir.Constant(
                ir.VectorType(I32, 2 * vectors[i].type.count),
                list(range(2 * vectors[i].type.count)))) for i in range(0, len(vectors), 2)]
        picks = ir.Constant(ir.VectorType(I32, lanes),
                            [offset + stride * i for i in range(lanes)])
        return b_.shuffle_vector(vectors[0], ir.Constant(vectors[0].type, ir.Undefined), picks)

    def _chunk(self, node: E.BufferLoad, start, mask):
        """``lanes`` consecutive elements of the row ``node`` reads, from ``start`` (only
        the lanes of ``mask`` when one is given), in storage form."""
        index_type = start.dtype
        chunk = E.BufferLoad(node.buffer, (*node.indices[:-1], _op.ramp(
            start, _op.const(1, index_type), node.dtype.lanes)), node.dtype)
        outer, self.mask = self.mask, mask
        try:
            return self._to_storage(self.visit_BufferLoad(chunk), node.dtype)
        finally:
            self.mask = outer

    def _span_load(self, node: E.BufferLoad, binding: BufferBinding, stride: int, mask):
        """Lanes ``base + stride * i``: a masked load of the ``stride * lanes`` elements
        from ``base`` (the lanes past the last one read nothing, so the access stays
        within the elements a gather would read) and a shuffle picking every
        ``stride``-th."""
        b_ = self.builder
        lanes = node.dtype.lanes
        span = stride * lanes
        storage = storage_type(node.buffer.dtype)
        values = self._scalar_indices(node.indices)
        offset = self._flat_offset(binding, values, 1)
        checks = self._bounds_checks(binding, node.indices, values, lanes, mask)
        wide = ir.VectorType(storage, span)
        if mask is None:
            wide_mask = ir.Constant(ir.VectorType(I1, span),
                                    [int(j <= stride * (lanes - 1)) for j in range(span)])
        else:
            wide_mask = self._hull_mask(mask, stride)

        def load():
            # not inbounds: lane 0 may be masked off because its address is outside
            pointer = b_.gep(binding.pointer, [offset], source_etype=storage)
            align = self._access_alignment(binding, node.indices, span)
            return self._masked_load(pointer, wide, align, wide_mask)
        raw = self._guarded(checks, load, wide, binding)
        picks = ir.Constant(ir.VectorType(I32, lanes), [stride * i for i in range(lanes)])
        return b_.shuffle_vector(raw, ir.Constant(wide, ir.Undefined), picks)

    def _hull_mask(self, mask, stride: int):
        """The elements of a span between its first and last active lane (``mask`` has one
        lane per ``stride`` elements): contiguous, so the masked load stays one vector
        load where a mask with holes would become a gather, and every element it reads
        lies between two that the access reads anyway."""
        b_ = self.builder
        lanes = mask.type.count
        false = const_of(mask.type, 0)

        def scan(vector, towards_end: bool):
            # after the steps, lane i is the OR of the lanes at or before (after) i
            step = 1
            while step < lanes:
                picks = [i - step if towards_end else i + step for i in range(lanes)]
                picks = [p if 0 <= p < lanes else lanes for p in picks]  # lane of `false`
                vector = b_.or_(vector, b_.shuffle_vector(
                    vector, false, ir.Constant(ir.VectorType(I32, lanes), picks)))
                step *= 2
            return vector
        before, after = scan(mask, True), scan(mask, False)
        # element j of the span: at or after an active lane and at or before one
        span = stride * lanes
        from_before = b_.shuffle_vector(before, false, ir.Constant(
            ir.VectorType(I32, span), [j // stride for j in range(span)]))
        from_after = b_.shuffle_vector(after, false, ir.Constant(
            ir.VectorType(I32, span),
            [j // stride if j % stride == 0 else (j // stride + 1 if j // stride + 1 < lanes
                                                  else lanes) for j in range(span)]))
        return b_.and_(from_before, from_after)

    def _masked_load(self, pointer, vector: ir.VectorType, align: int, mask):
        suffix = f"v{vector.count}{_type_suffix(vector.element)}"
        name = f"llvm.masked.load.{suffix}.p0"
        fn = self.module.globals.get(name)
        if fn is None:
            fn = ir.Function(self.module, ir.FunctionType(
                vector, [PTR, I32, mask.type, vector]), name)
        return self.builder.call(fn, [pointer, ir.Constant(I32, align), mask,
                                      const_of(vector, 0)])

    def visit_BufferStore(self, node):
        binding = self.binding(node.buffer)
        value_dtype = node.value.dtype
        lanes = max([value_dtype.lanes] + [i.dtype.lanes for i in node.indices])
        value = self.visit(node.value)
        if lanes > 1 and value_dtype.lanes == 1:
            value = self.broadcast(value, lanes)
            value_dtype = value_dtype.with_lanes(lanes)
        elem_dtype = node.buffer.dtype
        if value_dtype.element_of() != elem_dtype:
            raise InternalError(f"store of a {value_dtype} value into buffer "
                                f"'{node.buffer.name}' of {elem_dtype}")
        raw = self._to_storage(value, value_dtype)
        storage = storage_type(elem_dtype)
        b_ = self.builder
        if lanes == 1 or self._contiguous(binding, node.indices):
            values = self._scalar_indices(node.indices)
            offset = self._flat_offset(binding, values, 1)
            checks = self._bounds_checks(binding, node.indices, values, lanes, None)

            def store():
                pointer = self._element_pointer(binding, offset, storage)
                align = elem_dtype.bytes if lanes == 1 else \
                    self._access_alignment(binding, node.indices, lanes)
                instruction = b_.store(raw, pointer, align=align)
                if lanes > 1 and binding.buffer in self.streaming_buffers:
                    instruction.set_metadata("nontemporal", self._nontemporal_metadata())
            self._guarded(checks, store, None, binding)
            return
        values = self._vector_indices(node.indices, lanes)
        offsets = self._flat_offset(binding, values, lanes)
        checks = self._bounds_checks(binding, node.indices, values, lanes, None)

        def scatter():
            for lane in range(lanes):
                lane_id = ir.Constant(I32, lane)
                pointer = self._element_pointer(binding, b_.extract_element(offsets, lane_id),
                                                storage)
                b_.store(b_.extract_element(raw, lane_id), pointer, align=elem_dtype.bytes)
        self._guarded(checks, scatter, None, binding)

    def _nontemporal_metadata(self):
        if getattr(self, "_nontemporal", None) is None:
            self._nontemporal = self.module.add_metadata([ir.Constant(I32, 1)])
        return self._nontemporal

    # -- bounds checks -------------------------------------------------------------------
    def _bounds_checks(self, binding, indices, values, lanes: int, mask) -> list:
        """(dim, index i64, extent i64, active i1 or None) per scalar check to emit."""
        if not self.bounds_check:
            return []
        b_ = self.builder
        checks = []
        for dim, (index, value) in enumerate(zip(indices, values)):
            extent = binding.shape[dim]
            if isinstance(value.type, ir.VectorType):
                for lane in range(value.type.count):
                    lane_id = ir.Constant(I32, lane)
                    active = None if mask is None else b_.extract_element(mask, lane_id)
                    checks.append((dim, b_.extract_element(value, lane_id), extent, active))
            elif isinstance(index, E.Ramp) and mask is not None:  # each active lane
                for lane in range(lanes):
                    lane_index = b_.add(value, ir.Constant(I64, lane * index.stride.value))
                    active = b_.extract_element(mask, ir.Constant(I32, lane))
                    checks.append((dim, lane_index, extent, active))
            elif isinstance(index, E.Ramp):  # contiguous: first and last lane
                last = b_.add(value, ir.Constant(I64, (lanes - 1) * index.stride.value))
                checks.append((dim, value, extent, None if mask is None else
                               self._any_lane(mask)))
                checks.append((dim, last, extent, None if mask is None else
                               self._any_lane(mask)))
            else:
                checks.append((dim, value, extent, None if mask is None else
                               self._any_lane(mask)))
        return checks

    def _any_lane(self, mask):
        bits = self.builder.bitcast(mask, ir.IntType(mask.type.count))
        return self.builder.icmp_unsigned("!=", bits, ir.Constant(bits.type, 0))

    def _guarded(self, checks, emit_access, result_type, binding):
        """Run ``emit_access`` when every check passes; otherwise record the first failing
        check in the context array and skip the access (a load then yields zero)."""
        if not checks:
            return emit_access()
        b_ = self.builder
        ok = None
        failing = None
        for dim, index, extent, active in reversed(checks):
            # one unsigned comparison catches negative indices as well as large ones
            inside = b_.icmp_unsigned("<", index, extent)
            if active is not None:
                inside = b_.or_(inside, b_.xor(active, ir.Constant(I1, 1)))
            ok = inside if ok is None else b_.and_(ok, inside)
            record = (ir.Constant(I64, dim), index, extent)
            if failing is None:
                failing = record
            else:
                failing = tuple(b_.select(inside, old, new) for old, new in zip(failing, record))
        access_block = b_.append_basic_block("access")
        fail_block = b_.append_basic_block("out_of_bounds")
        merge = b_.append_basic_block("access.end")
        b_.cbranch(ok, access_block, fail_block)
        b_.position_at_end(access_block)
        result = emit_access()
        access_end = b_.block
        b_.branch(merge)
        b_.position_at_end(fail_block)
        b_.call(self._record_error_function(), [
            self.ctx_pointer, ir.Constant(I64, STATUS_OUT_OF_BOUNDS),
            ir.Constant(I64, binding.buffer_id), *failing])
        b_.branch(merge)
        b_.position_at_end(merge)
        if result_type is None:
            return None
        phi = b_.phi(result_type)
        phi.add_incoming(result, access_end)
        phi.add_incoming(const_of(result_type, 0), fail_block)
        return phi

    def _record_error_function(self) -> ir.Function:
        """``record(ctx, status, buffer, dim, index, extent)``: the first error wins."""
        name = "__tensorlang_record_error"
        fn = self.module.globals.get(name)
        if fn is not None:
            return fn
        fn = ir.Function(self.module, ir.FunctionType(VOID, [PTR] + [I64] * 5), name)
        fn.linkage = "internal"
        fn.attributes.add("noinline")
        fn.attributes.add("cold")
        ctx, status, buffer_id, dim, index, extent = fn.args
        builder = ir.IRBuilder(fn.append_basic_block("entry"))
        exchange = builder.cmpxchg(ctx, ir.Constant(I64, STATUS_OK), status, "monotonic",
                                   "monotonic")
        first = builder.extract_value(exchange, 1)
        with builder.if_then(first):
            for slot, value in ((CTX_BUFFER, buffer_id), (CTX_DIM, dim), (CTX_INDEX, index),
                                (CTX_EXTENT, extent)):
                builder.store(value, builder.gep(ctx, [ir.Constant(I64, slot)],
                                                 source_etype=I64))
        builder.ret_void()
        return fn


def _type_suffix(ty) -> str:
    text = str(ty)
    return {"float": "f32", "double": "f64", "half": "f16"}.get(text, text)


__all__ = ["MemoryCodeGen", "streaming_buffers"]
