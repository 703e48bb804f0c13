// « Tout cocher » on the case list: ticks or clears every case of the page for the bulk « Attribuer à… ».
// Without JavaScript each case is ticked one by one; nothing else depends on this file.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("attribution");
  if (!form) return;
  const boxes = () => Array.from(document.querySelectorAll('input[type="checkbox"][name="cases"]'));
  const button = document.createElement("button");
  button.type = "button";
  button.className = "button";
  button.textContent = "Tout cocher";
  button.addEventListener("click", () => {
    const all = boxes();
    const check = all.some((box) => !box.checked);
    all.forEach((box) => {
      box.checked = check;
    });
    button.textContent = check ? "Tout décocher" : "Tout cocher";
  });
  form.querySelector(".field-actions").prepend(button);
});
