/* Shrinks a large photo in the browser before it is uploaded (issue 15).
 *
 * A 12-megapixel phone photo is 3 to 5 MB; the QR code on a certificate or card reads as well
 * from a copy 2000 pixels on its longest side (the size the service itself first tries), which
 * is a tenth of the bytes to send over a phone connection and a tenth of the server's work.
 * Progressive enhancement: without JavaScript the box stays hidden and the original file is
 * sent; if anything here fails (a format the browser cannot draw, no canvas), the original file
 * is sent too. An external script, no inline code: the page's Content-Security-Policy allows
 * scripts from 'self' only. The file is drawn through createImageBitmap, so no blob: URL (which
 * the policy's img-src would refuse) is ever needed. */
(function () {
  "use strict";
  var LONGEST = 2000;         // pixels: the service reads a photo's code at this size first
  var QUALITY = 0.9;          // JPEG quality of the shrunk copy
  var TYPES = /^image\/(jpeg|png|webp)$/;

  var form = document.querySelector("form[data-shrink]");
  var input = form && form.querySelector("input[type=file]");
  var box = form && form.querySelector("[data-shrink-option]");
  var button = form && form.querySelector("button[type=submit]");
  if (!form || !input || !box || !button || !window.createImageBitmap || !window.DataTransfer ||
      !HTMLCanvasElement.prototype.toBlob) {
    return;
  }
  var choice = box.querySelector("input[type=checkbox]");
  box.hidden = false;

  function send() {
    button.disabled = false;
    form.submit();  // fires no submit event: a plain form submission, the result page as without JavaScript
  }

  form.addEventListener("submit", function (event) {
    var file = input.files && input.files[0];
    if (!choice.checked || !file || !TYPES.test(file.type)) {
      return;  // sent as chosen
    }
    event.preventDefault();
    button.disabled = true;  // one shrink at a time
    createImageBitmap(file).then(function (bitmap) {
      var scale = LONGEST / Math.max(bitmap.width, bitmap.height);
      if (scale >= 1) {
        bitmap.close();
        send();
        return;
      }
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      var context = canvas.getContext("2d");
      context.imageSmoothingQuality = "high";
      context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      bitmap.close();
      canvas.toBlob(function (blob) {
        if (blob && blob.size < file.size) {
          var name = file.name.replace(/\.[A-Za-z0-9]+$/, "") + ".jpg";
          var files = new DataTransfer();
          files.items.add(new File([blob], name, {type: "image/jpeg"}));
          input.files = files.files;
        }
        send();
      }, "image/jpeg", QUALITY);
    }).catch(function () {
      send();  // the browser cannot draw it: the server gets the original
    });
  });
})();
