"""The server-drawn charts: valid SVG an image reader announces, bars proportional to their values, the same
figures in the data table the French way, and nothing a strict CSP would refuse."""

from decimal import Decimal
from xml.etree import ElementTree

import pytest
from django.template import Context, Template

from amiable.reporting.charts import bar_chart, format_value, line_chart

SVG = "{http://www.w3.org/2000/svg}"


def _svg(chart):
    return ElementTree.fromstring(str(chart.svg))


def test_a_bar_chart_is_valid_svg_with_its_title_and_an_image_role():
    chart = bar_chart(
        title="Recouvré par mois", labels=["janv. 26", "févr. 26"], values=[Decimal("10.00"), 5], unit="€"
    )
    root = _svg(chart)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    title = root.find(f"{SVG}title")
    assert title.text == "Recouvré par mois"
    assert title.get("id") in root.get("aria-labelledby").split()
    assert root.find(f"{SVG}desc").text


def test_bars_are_proportional_to_their_values():
    values = [Decimal("1200.00"), Decimal("300.00"), Decimal("0.00"), Decimal("600.00")]
    chart = bar_chart(title="Recouvré", labels=["a", "b", "c", "d"], values=values, unit="€")
    heights = [float(rect.get("height")) for rect in _svg(chart).iter(f"{SVG}rect")]
    assert len(heights) == 4
    assert heights[2] == 0
    assert heights[0] == pytest.approx(4 * heights[1], abs=0.02)
    assert heights[0] == pytest.approx(2 * heights[3], abs=0.02)
    # The tallest bar fits inside the drawing, from the zero line upwards.
    bottoms = {round(float(r.get("y")) + float(r.get("height")), 1) for r in _svg(chart).iter(f"{SVG}rect")}
    assert len(bottoms) == 1


def test_a_negative_month_goes_below_the_zero_line():
    chart = bar_chart(title="Recouvré", labels=["a", "b"], values=[Decimal("100.00"), Decimal("-50.00")], unit="€")
    up, down = list(_svg(chart).iter(f"{SVG}rect"))
    assert float(up.get("y")) + float(up.get("height")) == pytest.approx(float(down.get("y")))
    assert float(up.get("height")) == pytest.approx(2 * float(down.get("height")), abs=0.02)


def test_the_data_table_says_the_same_figures_the_french_way():
    chart = bar_chart(
        title="Recouvré par mois",
        labels=["janv. 26", "févr. 26"],
        values=[Decimal("1234.5"), Decimal("0")],
        unit="€",
        label_header="Mois",
        value_header="Recouvré",
        extra=[("Mouvements", ["3", "0"])],
    )
    assert chart.headers == ["Mois", "Recouvré", "Mouvements"]
    assert chart.rows == [["janv. 26", "1\u202f234,50\u00a0€", "3"], ["févr. 26", "0,00\u00a0€", "0"]]
    html = str(chart.html)
    assert "<table" in html and "<details" in html
    assert "1\u202f234,50\u00a0€" in html
    assert format_value(Decimal("12.34"), "%") == "12,3\u00a0%"
    assert format_value(1234567, "") == "1\u202f234\u202f567"


def test_no_style_attribute_and_no_script_anywhere():
    for chart in (
        bar_chart(title="T", labels=["a"], values=[1]),
        line_chart(title="L", labels=["a", "b", "c"], values=[Decimal("10.0"), Decimal("55.5"), 0], unit="%"),
    ):
        markup = str(chart.html)
        assert "style=" not in markup
        assert "<script" not in markup
        assert "<style" not in markup
        root = _svg(chart)
        assert all("style" not in element.attrib for element in root.iter())


def test_a_line_chart_draws_one_point_per_value_at_its_height():
    chart = line_chart(
        title="Taux", labels=["a", "b", "c"], values=[Decimal("0"), Decimal("50"), Decimal("100")], unit="%"
    )
    root = _svg(chart)
    ys = [float(c.get("cy")) for c in root.iter(f"{SVG}circle")]
    assert len(ys) == 3
    assert ys[0] - ys[1] == pytest.approx(ys[1] - ys[2], abs=0.02)  # 0 → 50 → 100: equal steps up
    assert len(root.find(f"{SVG}polyline").get("points").split()) == 3
    assert chart.rows[1][1] == "50,0\u00a0%"


def test_labels_and_titles_are_escaped():
    chart = bar_chart(title="<b>&", labels=["<script>"], values=[1])
    root = _svg(chart)
    assert root.find(f"{SVG}title").text == "<b>&"
    assert "<script>" not in str(chart.svg)


def test_floats_are_refused():
    with pytest.raises(TypeError):
        bar_chart(title="T", labels=["a"], values=[0.1])


def test_a_chart_renders_in_a_template():
    chart = bar_chart(title="Dossiers", labels=["0 à 3 mois"], values=[2])
    html = Template("{{ chart.html }}").render(Context({"chart": chart}))
    assert "<svg" in html and "&lt;svg" not in html
