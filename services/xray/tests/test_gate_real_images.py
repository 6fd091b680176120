"""The gate on real images that are not chest X-rays: the sample data inside the scikit-image wheel (a camera
photo, coins, the moon, a scanned page, a retinal fundus photo, a CT phantom, natural colour photos)."""
from pathlib import Path

import cv2
import pytest

from app.errors import NotChestXrayError

skimage = pytest.importorskip("skimage", reason="scikit-image (requirements-dev.txt) ships the sample images")
DATA = Path(skimage.__file__).parent / "data"


@pytest.mark.parametrize("name,gray", [
    ("camera.png", False), ("coins.png", False), ("moon.png", False), ("page.png", False),
    ("phantom.png", False), ("astronaut.png", False), ("retina.jpg", True), ("chelsea.png", True),
    ("coffee.png", True), ("ihc.png", True),
])
def test_real_non_chest_images_are_refused(analyzer, name, gray):
    path = DATA / name
    if not path.exists():
        pytest.skip(f"{name} not in this scikit-image build")
    data = path.read_bytes()
    if gray:  # past the colourfulness check: the embedding gate has to refuse it on its own
        data = cv2.imencode(".png", cv2.imread(str(path), cv2.IMREAD_GRAYSCALE))[1].tobytes()
    with pytest.raises(NotChestXrayError) as exc:
        analyzer.analyze(data, name, None)
    assert exc.value.code == "not_chest_xray" and exc.value.details
