"""The wire format: whole messages through real pipes, and every kind of malformed reply rejected."""

from __future__ import annotations

import contextlib
import os
import struct

import numpy as np
import pytest

from grader.sandbox import protocol


@pytest.fixture
def pipe():
    read, write = os.pipe()
    yield read, write
    for fd in (read, write):
        with contextlib.suppress(OSError):
            os.close(fd)


def test_message_round_trips_with_payload(pipe):
    read, write = pipe
    protocol.send(write, {"event": "x", "n": 3}, b"\x00\x01payload")
    header, payload = protocol.Receiver(read).receive(timeout=1)
    assert header == {"event": "x", "n": 3, "payload_bytes": 9}
    assert payload == b"\x00\x01payload"


def test_receive_times_out_and_sees_closed_channel(pipe):
    read, write = pipe
    receiver = protocol.Receiver(read)
    with pytest.raises(protocol.Timeout):
        receiver.receive(timeout=0.05)
    os.close(write)
    with pytest.raises(protocol.ChannelClosed):
        receiver.receive(timeout=1)


def test_oversized_header_is_rejected_before_reading_it(pipe):
    read, write = pipe
    os.write(write, struct.pack(">I", protocol.MAX_HEADER_BYTES + 1))
    with pytest.raises(protocol.ProtocolError, match="header"):
        protocol.Receiver(read).receive(timeout=1)


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"payload_bytes": -1}', b'{"payload_bytes": "9"}'])
def test_malformed_headers_are_protocol_errors(pipe, body):
    read, write = pipe
    os.write(write, struct.pack(">I", len(body)) + body)
    with pytest.raises(protocol.ProtocolError):
        protocol.Receiver(read).receive(timeout=1)


def test_arrays_decode_to_exact_values():
    values = np.array([[0.5, -1.25], [3.0, 1e-3]], dtype=np.float32)
    specs, payload = protocol.pack_arrays([("float32", values.shape, values.tobytes())])
    decoded = protocol.decode_array(specs[0], payload)
    assert decoded.dtype == np.float64
    np.testing.assert_array_equal(decoded, values.astype(np.float64))


def test_bfloat16_bits_widen_exactly():
    # 1.0, -2.5 and 3.140625 are exact in bfloat16; their bits are the top half of the float32 bits.
    exact = np.array([1.0, -2.5, 3.140625], dtype=np.float32)
    bits = (exact.view(np.uint32) >> 16).astype(np.uint16)
    specs, payload = protocol.pack_arrays([("bfloat16", (3,), bits.tobytes())])
    np.testing.assert_array_equal(protocol.decode_array(specs[0], payload), exact.astype(np.float64))


@pytest.mark.parametrize(
    "spec",
    [
        {"dtype": "object", "shape": [1], "offset": 0, "nbytes": 8},
        {"dtype": "float64", "shape": [2], "offset": 0, "nbytes": 8},
        {"dtype": "float64", "shape": [1], "offset": 8, "nbytes": 8},
        {"dtype": "float64", "shape": [1], "offset": -8, "nbytes": 8},
        {"dtype": "float64", "shape": [-1], "offset": 0, "nbytes": 8},
        {"dtype": "float64", "shape": [1] * 9, "offset": 0, "nbytes": 8},
        {"dtype": "float64", "shape": [True], "offset": 0, "nbytes": 8},
        "not a dict",
    ],
)
def test_bad_array_specs_are_rejected(spec):
    with pytest.raises(protocol.ProtocolError):
        protocol.decode_array(spec, b"\x00" * 8)


# ---- a hostile child cannot make the parent pay: every malformed reply is a ProtocolError --------

def _frame(body: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">I", len(body)) + body + payload


@pytest.mark.parametrize("body", [
    b"[" * 100_000 + b"]" * 100_000,                       # json.loads alone raises RecursionError
    b'{"payload_bytes": 0, "n": ' + b"9" * 5000 + b"}",     # alone: ValueError (int digit limit)
    b'{"payload_bytes": 0, "n": ' + b"9" * 30 + b"}",       # parses, but no size of ours is that long
    b'{"payload_bytes": 0, "text": "\xff\xfe"}',            # not UTF-8
    b'{"payload_bytes": NaN}',
    b'{"payload_bytes": Infinity}',
    b'{"payload_bytes": true}',
])
def test_malformed_reply_headers_are_protocol_errors_not_crashes(body):
    with pytest.raises(protocol.ProtocolError):
        protocol.decode(_frame(body))


def test_long_digit_runs_in_text_are_text_and_small_integers_pass():
    text = b'{"payload_bytes": 0, "message": "' + b"7" * 40 + b'", '
    header, _ = protocol.decode(_frame(text + b'"n": -9223372036854775808}'))
    assert header["message"] == "7" * 40 and header["n"] == -(1 << 63)
    with pytest.raises(protocol.ProtocolError, match="digit"):
        protocol.decode(_frame(text + b'"n": ' + b"1" * 20 + b"}"))


def test_a_truncated_frame_is_a_protocol_error():
    whole = protocol.encode({"event": "x"}, b"12345678")
    for cut in (2, 10, len(whole) - 1):
        with pytest.raises(protocol.ProtocolError, match="incomplete"):
            protocol.decode(whole[:cut])


def test_an_oversized_payload_is_refused_before_it_is_read(pipe):
    read, write = pipe
    os.write(write, _frame(b'{"payload_bytes": %d}' % (protocol.MAX_PAYLOAD_BYTES + 1)))  # and no payload at all
    with pytest.raises(protocol.ProtocolError, match="for one reply"):
        protocol.Receiver(read).receive(timeout=1)  # a Timeout here would mean it waited for the bytes


def test_a_receiver_caps_the_bytes_of_a_whole_session(pipe):
    read, write = pipe
    receiver = protocol.Receiver(read, budget=3000)
    for _ in range(2):
        protocol.send(write, {"event": "x"}, b"\x00" * 1000)
        assert receiver.receive(timeout=1)[1] == b"\x00" * 1000
    protocol.send(write, {"event": "x"}, b"\x00" * 1000)
    with pytest.raises(protocol.ProtocolError, match="in all"):
        receiver.receive(timeout=1)


def _huge_case_reply(n: int) -> tuple[dict, bytes]:
    """A case reply whose three calls each return n complex128 values (the issue's 2^20 attack)."""
    blob = np.zeros(n, dtype=np.complex128).tobytes()
    specs, payload = protocol.pack_arrays([("complex128", (n,), blob)] * 3)
    call = {"kind": "tensor", "dtype": "complex128", "shape": [n], "device": "cpu", "requires_grad": False}
    header = {"calls": [{**call, "array": i} for i in range(3)], "primitive_calls": 0,
              "input_changed": False, "requires_grad_changed": False, "grad_left": False, "arrays": specs}
    return header, payload


def test_arrays_that_do_not_match_the_input_are_never_decoded():
    import tracemalloc

    from grader.grids import GridCase
    from grader.sandbox.replies import parse_case

    case = GridCase(np.linspace(0.0, 1.0, 12), "float64", "cpu", "plain", "around_zero")
    header, payload = _huge_case_reply(1 << 20)  # 48 MiB of payload
    tracemalloc.start()
    result = parse_case(case, (False, False, True), header, payload)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert result.first.values is None and result.under_secret.values is None
    assert result.first.shape == (1 << 20,) and result.first.dtype == "complex128"  # still reported
    assert peak < 1 << 20, f"decoding cost {peak / 2**20:.0f} MiB"  # decoding all three: 48 MiB
    header, payload = _huge_case_reply(12)  # the input's size: decoded as before
    assert parse_case(case, (False, False, True), header, payload).first.values.shape == (12,)


def test_a_message_dripped_a_byte_at_a_time_wakes_the_reader_a_few_hundred_times_a_second(pipe, monkeypatch):
    """A red team's child wrote its reply a byte a write: each woke the grader's reader (10 s of its
    CPU in a 9 s call). After a short read the reader waits DRIP_WAIT_S for more to gather."""
    import threading
    import time

    read, write = pipe
    message = protocol.encode({"event": "x", "pad": "y" * 1500})
    reads = []
    real_read = os.read
    monkeypatch.setattr(protocol.os, "read", lambda fd, n: reads.append(n) or real_read(fd, n))

    def drip():
        for i in range(len(message)):
            os.write(write, message[i:i + 1])
            time.sleep(0.0002)

    writer = threading.Thread(target=drip)
    started = time.monotonic()
    writer.start()
    header, _ = protocol.Receiver(read).receive(timeout=30)
    writer.join()
    assert header["pad"] == "y" * 1500
    # a byte a read would be about 1,500 reads; the waits allow one per 2 ms of the drip at most
    assert len(reads) <= (time.monotonic() - started) / protocol.DRIP_WAIT_S + 5, len(reads)
    assert len(reads) < len(message) / 3, len(reads)


def _case_reply(**changes) -> tuple[dict, bytes]:
    """A well-formed reply to a case of three calls on 12 float64 numbers, with `changes` to its header
    (a key set to None is removed)."""
    blob = np.linspace(0.0, 1.0, 12).tobytes()
    specs, payload = protocol.pack_arrays([("float64", (12,), blob)])
    call = {"kind": "tensor", "dtype": "float64", "shape": [12], "device": "cpu", "requires_grad": False, "array": 0}
    header = {"calls": [call] * 3, "primitive_calls": 3, "input_changed": False, "requires_grad_changed": False,
              "grad_left": False, "arrays": specs, **changes}
    return {k: v for k, v in header.items() if v is not None}, payload


_CALL = {"dtype": "float64", "device": "cpu", "requires_grad": False}


@pytest.mark.parametrize("changes", [
    {"calls": [{"kind": "tensor", "shape": [12], "array": 0, **_CALL}] * 2},  # two calls for a plan of three
    {"input_changed": "no"}, {"grad_left": 0}, {"requires_grad_changed": None},  # flags that are no bools
    {"primitive_calls": -5}, {"primitive_calls": True}, {"unfollowed_calls": 1.5},  # counts that are no counts
    {"calls": [{"kind": "tensr", "shape": [12], "array": 0, **_CALL}] * 3},  # a kind no call has
    {"calls": [{"kind": "tensor", "shape": [3, 5], "array": 0, **_CALL}] * 3},  # data not of its stated shape
    {"calls": [{"kind": "tensor", "shape": [12], "array": 1, **_CALL}] * 3},  # an array that is not there
])
def test_a_well_formed_but_wrong_case_reply_is_refused(changes):
    """rv01: the hostile replies of the tests failed at other layers (size, JSON depth), and each of
    these rules could be removed with every test passing; a reply of two calls for three then ended
    in the parent's own ValueError (a grader error, not the submission's crash)."""
    from grader.grids import GridCase
    from grader.sandbox.replies import parse_case

    case = GridCase(np.linspace(0.0, 1.0, 12), "float64", "cpu", "plain", "around_zero")
    header, payload = _case_reply()
    assert parse_case(case, (False, False, True), header, payload).first.values.shape == (12,)
    header, payload = _case_reply(**changes)
    with pytest.raises(protocol.ProtocolError):
        parse_case(case, (False, False, True), header, payload)


def test_a_gradient_in_a_tuple_of_one_is_read_and_anything_else_wrapped_is_refused():
    """torch.autograd.grad's own answer comes as a tuple of one tensor: its numbers are read (as a
    numpy array's are), its container named; a child that claims another container, or numbers of
    another shape than it states, is refused."""
    from grader.sandbox.replies import ProtocolError, parse_returned

    values = np.array([0.5, -1.0, 2.0], dtype="<f4")
    specs = [{"dtype": "float32", "shape": [3], "offset": 0, "nbytes": values.nbytes}]
    raw = {"kind": "wrapped", "type": "tuple", "dtype": "float32", "shape": [3], "device": "cpu", "array": 0}
    r = parse_returned(raw, specs, values.tobytes(), 3)
    assert r.kind == "wrapped" and r.type_name == "tuple" and r.values.tolist() == [0.5, -1.0, 2.0]
    # (rt206: a rewrite of the child's replies stated float64 numbers as x's float32, for the contract's point)
    for bad in ({**raw, "type": "set"}, {**raw, "type": "tuple\nLikely cause: cos"}, {**raw, "shape": [1, 3]},
                {**raw, "dtype": "float64"}, {**raw, "kind": "tensor", "dtype": "float16"}):
        with pytest.raises(ProtocolError):
            parse_returned(bad, specs, values.tobytes(), 3)


def test_a_gradient_beside_what_it_was_taken_of_is_read():
    """ux117: `return x, x.grad` scored 1/10 (a tuple, never read) beside .tolist()'s 9. Two tensors of
    x's size are both sent, and the grader reads the gradient (resolve_pair): the one that is not the
    function's values, else not x (hn125: at x = 0 cos(x²)'s gradient -0.0 equals x's 0.0, and y was
    read), else not tracked; two alike, or other sizes, stay unread. Beside one number (sin_cos_norm's
    y), the one of x's size is read in the child."""
    import torch

    from grader.sandbox.child import snapshot
    from grader.sandbox.replies import parse_returned, resolve_pair

    def read(out, x, values_of):  # as the child sends it and the grader reads it
        arrays: list = []
        raw = snapshot(torch, out, x.numel(), arrays, x)
        specs, offset = [], 0
        for dtype, shape, data in arrays:
            specs.append({"dtype": dtype, "shape": list(shape), "offset": offset, "nbytes": len(data)})
            offset += len(data)
        payload = b"".join(data for _, _, data in arrays)
        return raw, resolve_pair(parse_returned(raw, specs, payload, x.numel()), x.detach().double().numpy(), values_of)

    x = torch.tensor([0.5, 1.0, 2.0]).requires_grad_(True)
    y = torch.sin(x)
    gradient = torch.cos(x.detach())
    tracked = gradient.clone().requires_grad_(True)  # (create_graph=True's, beside x detached: rt150)
    for out in ((x, gradient), [gradient, y], (x.detach(), gradient), (x.detach(), tracked), (tracked, x),
                (y.detach(), gradient), (gradient, y.detach()), (y, tracked)):
        raw, r = read(out, x, np.sin)
        assert raw["kind"] == "pair" and r.kind == "wrapped" and r.held == 2, (raw, r)
        assert np.allclose(r.values, np.cos([0.5, 1.0, 2.0])), out
    empty = torch.zeros(0).requires_grad_(True)  # (an empty input's pair: its two tensors are alike)
    assert read((empty, torch.zeros(0)), empty, np.sin)[1].kind == "wrapped"
    assert read((gradient, gradient), x, np.sin)[1].kind == "other"
    for out in ((x, gradient[:2]), (x, gradient, gradient)):
        assert snapshot(torch, out, 3, [], x)["kind"] == "other", out
    # hn125: at x = 0.0, cos(x²)'s gradient is -0.0 (or 0.0, as x), beside y = 1.0, tracked
    zero = torch.tensor([0.0]).requires_grad_(True)
    for gradient_at_zero in (torch.tensor([-0.0]), torch.tensor([0.0])):
        r = read((torch.cos(zero * zero), gradient_at_zero), zero, lambda v: np.cos(v * v))[1]
        assert r.kind == "wrapped" and r.values.tolist() == [0.0], r
    # sin_cos_norm's y is one number, beside a gradient of x's size: read in the child (rt168: or y.item(),
    # a Python number; a subclass of one is not read, its reading being the submission's code)
    class Sly(float):
        pass

    for number, beside in ((torch.sin(x).sum(), "a tensor of one number"), (1.5, "a Python number"),
                           (2, "a Python number")):
        raw, r = read((number, gradient), x, np.sin)
        assert raw["kind"] == "wrapped" and raw["held"] == 2 and r.text == beside, (raw, r)
        assert np.allclose(r.values, np.cos([0.5, 1.0, 2.0]))
    for out in ((Sly(1.5), gradient), ("1.5", gradient), (gradient, gradient[:2])):
        assert snapshot(torch, out, 3, [], x)["kind"] == "other", out
    # (x itself beside a number is read, and judged as any answer: hn127's cos(x²) gradient at x = 0 is x)
    assert np.allclose(read((x, torch.sin(x).sum()), x, np.sin)[1].values, [0.5, 1.0, 2.0])
    # (hn127: a namedtuple, a dict, two numpy arrays or two lists, and a 0-d x's two numbers, read as a tuple is)
    from collections import namedtuple

    Result = namedtuple("Result", "y grad")
    zero_d = torch.tensor(0.5)
    for out, x_of, held in ((Result(y.detach(), gradient), x, "tuple"), ({"y": y, "grad": gradient}, x, "dict"),
                            ((y.detach().numpy(), gradient.numpy()), x, "tuple"),
                            ([x.tolist(), gradient.tolist()], x, "list"),
                            ((0.5, float(np.cos(0.5))), zero_d, "tuple")):
        raw, r = read(out, x_of, np.sin)
        assert r.kind == "wrapped" and raw["type"] == held and r.type_name == held, (out, raw, r)
        assert np.allclose(r.values, np.cos(x_of.detach().numpy())), out
    # (rt171: a namedtuple of one and an OrderedDict read as a tuple and a dict are; an object whose __class__
    # says tuple is none, where tuple's own methods raised on it, a harness error charged to the student)
    from collections import OrderedDict

    One = namedtuple("One", "grad")

    class Fake:
        @property  # type: ignore[misc]
        def __class__(self):
            return tuple

    assert read(One(gradient), x, np.sin)[1].kind == "wrapped"
    assert read(OrderedDict(y=y, grad=gradient), x, np.sin)[1].type_name == "dict"
    assert snapshot(torch, Fake(), 3, [], x)["kind"] == "other"
    # (what the gradient came beside, for the words: ux117 was told "beside x or y")
    assert read((x, gradient), x, np.sin)[1].text == "x itself"
    assert read((y.detach(), gradient), x, np.sin)[1].text == "the function's values (y)"
    assert read((tracked + 1, gradient), x, np.sin)[1].text == "another tensor of x's size"  # (tracking decides)


def test_a_pair_is_read_as_its_plain_call_says_on_every_call_of_the_input():
    """rt167: where the gradient is the function's values (d/dx (sin + cos) at 0, sin at π/4 in float16),
    `return x, x.grad` read x on plain calls and the gradient under the secret, which moves it off
    them: the choice followed the secret, and an honest file was "unproven" at 1/10."""
    from grader.observations import Returned
    from grader.sandbox.replies import _pairs_read, pair_choice

    def pair(first, second, tracked=(True, False)):
        parts = [Returned("tensor", values=np.array(v, dtype=np.float32), dtype="float32", shape=(1,),
                          requires_grad=t) for v, t in zip((first, second), tracked, strict=True)]
        return Returned("pair", type_name="tuple", pair=(parts[0], parts[1]))

    x = np.array([0.5])
    gradient = float(np.float32(np.cos(0.5) - np.sin(0.5)))
    values_of = lambda v: np.cos(v) - np.sin(v)  # noqa: E731 - (a function whose values are its gradient's at 0.5)
    calls = (pair([0.5], [gradient]), pair([0.5], [gradient]), pair([0.5], [0.375]))  # (x, x.grad), the third secret
    read = _pairs_read(calls, (False, False, True), x, values_of)
    assert [r.kind for r in read] == ["wrapped"] * 3 and [float(r.values[0]) for r in read] == [gradient] * 2 + [0.375]
    x = np.array([0.0])
    # (the two rules disagree there: tracking decides; neither decides, nothing is read, on every call)
    values_of = lambda v: np.sin(v) + np.cos(v)  # noqa: E731
    assert pair_choice(pair([1.0], [1.0], (False, False)), x, values_of) is None
    assert [r.kind for r in _pairs_read((pair([1.0], [1.0], (False, False)),) * 2, (False, True), x, values_of)] \
        == ["other", "other"]
    # hn125's cos_square at 0: the gradient +0.0 is x, y = 1.0 the function's value, y tracked; and
    # rt167's `return x.grad, y.detach()` there, neither tracked (x of zeros: the function's values decide)
    assert pair_choice(pair([1.0], [0.0]), x, lambda v: np.cos(v * v)) == 1
    assert pair_choice(pair([0.0], [1.0], (False, False)), x, lambda v: np.cos(v * v)) == 0
    assert pair_choice(pair([0.0], [1.0], (True, False)), x, lambda v: np.cos(v * v)) == 0  # (create_graph's)
    # `return x.detach(), x.grad` where the gradient crosses the function (sin at π/4): being x decides
    quarter = np.array([np.float32(np.pi / 4)], dtype=np.float64)
    crossing = pair(quarter.tolist(), np.cos(quarter).tolist(), (False, False))
    assert pair_choice(crossing, quarter, np.sin) == 1


def test_a_list_of_numbers_is_read_as_a_numpy_arrays_numbers_are():
    """ux115: `return x.grad.tolist()` scored 4.24 where `.numpy()` scored 9: its numbers were never
    read. Lists of Python numbers are now (exactly those types: a float subclass's __float__ is the
    submission's code), anything else in a list stays unread."""
    import torch

    from grader.sandbox.child import snapshot
    from grader.sandbox.replies import parse_returned

    class Sly(float):
        pass

    x = torch.tensor([[0.5, -1.0, 2.0], [3.0, 0.25, 1.5]])
    # (rt168: a 2-d x's rows' gradients, and a nested loop's, read as a loop's list; a list mixing kinds is not)
    for out, kind in ((x.tolist(), "list"), (torch.zeros(6, 0).tolist(), "list"), ([x[0], x[1]], "list"),
                      ([[v for v in row] for row in x], "list"), ([x[0], x[1].tolist()], "other"),
                      ([x[0]], "wrapped"), ([[0.5, Sly(1.0)]], "other"), ((1.0, "2"), "other")):
        arrays: list = []
        info = snapshot(torch, out, x.numel(), arrays)
        assert info["kind"] == kind, (out, info)
    # (more dimensions than the wire takes: no numbers, where rt147's 9-d answers were malformed replies)
    for deep in (x.reshape((1,) * 7 + (2, 3)), [[[[[[[[x.tolist()]]]]]]]], x.numpy().reshape((1,) * 7 + (2, 3))):
        arrays = []
        info = snapshot(torch, deep, x.numel(), arrays)
        assert not arrays and "array" not in info, info
    arrays = []
    info = snapshot(torch, x.tolist(), x.numel(), arrays)
    specs = [protocol.array_spec(dtype, shape, 0, len(data)) for dtype, shape, data in arrays]
    r = parse_returned(info, specs, arrays[0][2], x.numel())
    assert r.kind == "list" and r.type_name == "list" and r.values.tolist() == x.tolist()
    # hn125: a loop's one-number gradients, [xi.grad ...], read as .tolist()'s are (4.53 beside .tolist()'s 9)
    arrays = []
    info = snapshot(torch, [t.clone() for t in x.reshape(-1)], x.numel(), arrays)
    specs = [protocol.array_spec(dtype, shape, 0, len(data)) for dtype, shape, data in arrays]
    r = parse_returned(info, specs, arrays[0][2], x.numel())
    assert r.kind == "list" and r.text == "tensors" and r.values.tolist() == x.reshape(-1).tolist()
    zero = torch.tensor(0.5)  # (ux125: `return x, y, x.grad` of a 0-d x is three tensors, no loop's list)
    assert snapshot(torch, (zero, torch.sin(zero), torch.cos(zero)), 1, [])["kind"] == "other"
    sly = [torch.nn.Parameter(t.clone()) for t in x.reshape(-1)]  # (a subclass: not read)
    assert snapshot(torch, sly, x.numel(), [])["kind"] == "other"


def test_a_graded_calls_recorded_passes_and_tangents_are_read_and_bounded():
    """Every graded call of a chain-rule exercise comes with its passes and forward mode's tangents
    (sandbox/child.py: Runner.record_calls): read as a trace's are, and a reply past their bounds is
    malformed, never decoded at length."""
    from grader.grids import GridCase
    from grader.sandbox.protocol import ProtocolError
    from grader.sandbox.replies import MAX_TANGENTS, MAX_TRACED_RUNS, parse_case

    case = GridCase(np.linspace(0.5, 1.0, 3), "float64", "cpu", "plain", "general")
    step = {"op": "SinBackward0", "next": [-1], "grad_out": [None], "u": 0.5}
    recorded = {"runs": [{"steps": [step]}], "passes": 1, "tangents": [0.8775825618903728, None]}
    calls = [{"kind": "none", "recorded": recorded}, {"kind": "none"}, {"kind": "error", "error": {"type": "E"},
                                                                        "recorded": {"runs": [], "tangents": []}}]
    header = {"calls": calls, "primitive_calls": 3, "arrays": [], "input_changed": False,
              "requires_grad_changed": False, "grad_left": False}
    result = parse_case(case, (False, False, True), header, b"")
    first, second, third = result.recorded
    assert first is not None and first.runs[0][0].op == "SinBackward0" and first.tangents == (0.8775825618903728, None)
    assert second is None and third is not None and third.kind == "error" and third.runs == ()
    assert parse_case(case, (False, False, True), {**header, "calls": [{"kind": "none"}] * 3}, b"").recorded == ()
    for bad in ({**recorded, "runs": [{"steps": [step]}] * (MAX_TRACED_RUNS + 1)},
                {**recorded, "tangents": [1.0] * (MAX_TANGENTS + 1)}, {**recorded, "tangents": ["x"]},
                {**recorded, "runs": "steps"}, [recorded]):
        with pytest.raises(ProtocolError):
            parse_case(case, (False, False, True), {**header, "calls": [{"kind": "none", "recorded": bad}] * 3}, b"")
